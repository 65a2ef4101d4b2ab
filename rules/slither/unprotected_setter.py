"""A setter of a price source, fee/risk parameter or privileged address that anyone can call."""

from __future__ import annotations

from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir


class UnprotectedSetter(AbstractDetector):
    ARGUMENT = "wd-unprotected-setter"
    HELP = "Setter of an oracle, fee/risk parameter or privileged address callable by anyone"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://swcregistry.io/docs/SWC-105"
    WIKI_TITLE = "Unprotected critical setter"
    WIKI_DESCRIPTION = "An external function writes a caller-chosen value into a state variable that decides prices, fees, risk limits or who is privileged, and checks nobody's identity."
    WIKI_EXPLOIT_SCENARIO = "Anyone calls setOracle(attackerFeed), reports a price of their choosing and borrows the protocol empty."
    WIKI_RECOMMENDATION = "Restrict the setter to governance (onlyOwner, a role, a timelock) and emit an event for the change."
    BUG_CLASS = "access control: unprotected critical setter"
    EXAMPLE = "function setOracle(address o) external { oracle = IOracle(o); }  // no onlyOwner"
    REFERENCES = (
        "https://docs.openzeppelin.com/contracts/5.x/access-control",
        "https://github.com/Decurity/semgrep-smart-contracts/blob/master/solidity/security/sense-missing-oracle-access-control.yaml",
        "https://github.com/Decurity/semgrep-smart-contracts/blob/master/solidity/security/oracle-price-update-not-restricted.yaml",
    )

    def _detect(self) -> list:
        results = []
        for _, function in ir.declared_functions(self.compilation_unit):
            writes = ir.critical_setter_writes(function)
            if writes and not ir.access_controlled(function):
                names = ", ".join(f"{v.name} ({kind})" for v, kind in writes)
                info = [function, f" lets anyone set {names}\n"]
                results.append(self.generate_result(info))
        return results
