"""An initializer that anyone can call, or call again."""

from __future__ import annotations

from slither.core.declarations import Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir

GUARD_MODIFIERS = {"initializer", "reinitializer", "onlyInitializing"}
INITIALIZER_WORDS = {"init", "initialize", "initialise", "initializer"}


class UnprotectedInitializer(AbstractDetector):
    ARGUMENT = "wd-unprotected-initializer"
    HELP = "Initializer callable by anyone or more than once"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.HIGH
    WIKI = "https://docs.openzeppelin.com/upgrades-plugins/writing-upgradeable#initializers"
    WIKI_TITLE = "Unprotected initializer"
    WIKI_DESCRIPTION = "An external initializer has no one-time guard and no caller check: whoever calls it first (or again) sets owners, oracles or parameters."
    WIKI_EXPLOIT_SCENARIO = "An attacker calls initialize() on the proxy or the implementation and makes itself owner."
    WIKI_RECOMMENDATION = "Use OpenZeppelin's `initializer` modifier (and _disableInitializers() in the constructor), or a caller check plus a one-time flag."
    BUG_CLASS = "access control: unprotected initializer"
    EXAMPLE = "function initialize(address o) external { owner = o; }  // no initializer modifier"
    REFERENCES = (
        "https://docs.openzeppelin.com/upgrades-plugins/writing-upgradeable#initializers",
        "https://github.com/crytic/slither/wiki/Detector-Documentation#unprotected-upgradeable-contract",
    )

    def _detect(self) -> list:
        results = []
        for contract in self.compilation_unit.contracts_derived:
            for function in contract.functions_entry_points:
                if not self._is_initializer(function) or function.view or function.pure:
                    continue
                if not function.state_variables_written or self._guarded(function):
                    continue
                info = [function, " initializes state but anyone can call it, any number of times\n"]
                results.append(self.generate_result(info))
        return results

    @staticmethod
    def _is_initializer(function: Function) -> bool:
        """initialize, initializeV2, init, initConfig, _init... but not initiateWithdrawal."""
        first = (ir.words(function.name) or [""])[0]
        return not function.is_constructor and first in INITIALIZER_WORDS

    @staticmethod
    def _guarded(function: Function) -> bool:
        if any(m.name in GUARD_MODIFIERS or m.name.startswith("only") for m in function.modifiers):
            return True
        functions = ir.reachable(function)
        if ir.checked(ir.MSG_SENDER, functions):
            return True
        # A one-time flag: a state variable that gates the call and that the call itself writes.
        written = {v for f in functions for v in f.state_variables_written}
        return any(v in written for node in ir.conditional_nodes(functions) for v in node.state_variables_read)
