"""A setter of a price source, fee/risk parameter or privileged address that emits no event."""

from __future__ import annotations

from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir


class SetterWithoutEvent(AbstractDetector):
    ARGUMENT = "wd-setter-no-event"
    HELP = "Change of an oracle, fee/risk parameter or privileged address that emits no event"
    IMPACT = DetectorClassification.MEDIUM
    CONFIDENCE = DetectorClassification.HIGH
    WIKI = "https://github.com/crytic/slither/wiki/Detector-Documentation#missing-events-access-control"
    WIKI_TITLE = "Critical change without an event"
    WIKI_DESCRIPTION = "A price source, fee or risk parameter or privileged address changes without an event: monitors, indexers and users cannot see the change until it is used."
    WIKI_EXPLOIT_SCENARIO = "A compromised admin key swaps the oracle for its own; no event fires, so no monitor alerts before the drain."
    WIKI_RECOMMENDATION = "Emit an event with the old and the new value in every setter of a critical parameter."
    BUG_CLASS = "monitoring: silent critical change"
    EXAMPLE = "function setFeeTo(address to) external onlyOwner { feeTo = to; }  // no emit"
    REFERENCES = (
        "https://github.com/crytic/slither/wiki/Detector-Documentation#missing-events-access-control",
        "https://github.com/crytic/slither/wiki/Detector-Documentation#missing-events-arithmetic",
    )

    def _detect(self) -> list:
        results = []
        setters = {f: w for _, f in ir.declared_functions(self.compilation_unit) if (w := ir.critical_setter_writes(f))}
        announced = self._announced_by_callers({f.name for f in setters})
        for function, writes in setters.items():
            if not ir.emits(function) and function.name not in announced:
                names = ", ".join(f"{v.name} ({kind})" for v, kind in writes)
                info = [function, f" changes {names} without emitting an event\n"]
                results.append(self.generate_result(info))
        return results

    def _announced_by_callers(self, names: set[str]) -> set[str]:
        """Setters that some function calls externally after emitting an event: a configurator that announces
        the change and applies it on the target contract (which then needs no event of its own)."""
        return {
            str(call.function_name)
            for _, caller in ir.declared_functions(self.compilation_unit)
            for _, call in ir.high_level_calls(caller, names)
            if ir.emits(caller)
        }
