"""Chainlink `latestRoundData` used without staleness, answer and round checks."""

from __future__ import annotations

from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir

# Components of latestRoundData's result: (roundId, answer, startedAt, updatedAt, answeredInRound).
REQUIRED = {
    "staleness (updatedAt against block.timestamp)": (3,),
    "answer (answer > 0)": (1,),
    "round (answeredInRound >= roundId)": (0, 4),
}


class ChainlinkUnchecked(AbstractDetector):
    ARGUMENT = "wd-chainlink-unchecked"
    HELP = "Chainlink latestRoundData used without staleness, answer or round checks"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://docs.chain.link/data-feeds/api-reference#latestrounddata"
    WIKI_TITLE = "Unchecked Chainlink price"
    WIKI_DESCRIPTION = "A price read from a Chainlink feed is used without rejecting stale rounds, non-positive answers or unfinished rounds."
    WIKI_EXPLOIT_SCENARIO = "The feed stops updating during a crash; the protocol keeps lending against the old, higher price."
    WIKI_RECOMMENDATION = "Require answer > 0, block.timestamp - updatedAt <= a heartbeat bound, and answeredInRound >= roundId."
    BUG_CLASS = "oracle: unchecked Chainlink answer"
    EXAMPLE = "(, int256 answer,,,) = feed.latestRoundData(); return uint256(answer);  // no staleness, no > 0"
    REFERENCES = (
        "https://docs.chain.link/data-feeds/api-reference#latestrounddata",
        "https://docs.chain.link/data-feeds/developer-responsibilities",
    )

    def _detect(self) -> list:
        results = []
        # Every contract, base ones included: each function is checked once, where it is declared.
        for contract in self.compilation_unit.contracts:
            for function in contract.functions_and_modifiers_declared:
                for node, call in ir.high_level_calls(function, {"latestRoundData"}):
                    if ir.name_has(ir.destination_name(call), ("sequencer", "uptime")):
                        continue  # a sequencer-uptime feed has its own semantics (see wd-l2-sequencer)
                    missing = self._missing_checks(function, contract, call)
                    if missing:
                        info = [function, " reads ", node, " without checking ", ", ".join(missing), "\n"]
                        results.append(self.generate_result(info))
        return results

    @staticmethod
    def _missing_checks(function, contract, call) -> list[str]:
        components = ir.unpacked(function, call)
        # Checks may live in the function, in helpers the values are passed to, or in callers they are returned to.
        return [
            label
            for label, indexes in REQUIRED.items()
            if not any(i in components and ir.checked_flow(components[i], function, contract) for i in indexes)
        ]
