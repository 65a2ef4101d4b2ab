"""Value-moving external functions of a pausable contract that skip the pause check."""

from __future__ import annotations

from slither.core.declarations import Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification
from slither.slithir.operations import HighLevelCall, LowLevelCall, Send, Transfer

from watchdog.scan import ir

PAUSE_STATE = {"paused", "_paused"}
PAUSE_HELPERS = {"whenNotPaused", "_requireNotPaused", "requireNotPaused", "notPaused"}
TOKEN_MOVES = {"transfer", "transferFrom", "safeTransfer", "safeTransferFrom", "mint", "burn", "sendValue"}


class PauseBypass(AbstractDetector):
    ARGUMENT = "wd-pause-bypass"
    HELP = "Value-moving function of a pausable contract that skips the pause check"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://docs.openzeppelin.com/contracts/5.x/api/utils#Pausable"
    WIKI_TITLE = "Pause bypass"
    WIKI_DESCRIPTION = "The contract can be paused, but an external function that moves funds does not check the pause, so an emergency pause does not stop it."
    WIKI_EXPLOIT_SCENARIO = "The guardian pauses during an exploit; the attacker keeps draining through withdraw(), which has no whenNotPaused."
    WIKI_RECOMMENDATION = "Add whenNotPaused (or _requireNotPaused()) to every user path that moves value; keep only access-controlled rescue paths unpaused."
    BUG_CLASS = "emergency response: pause bypass"
    EXAMPLE = "function withdraw(uint256 a) external { ... }  // in a Pausable contract, no whenNotPaused"
    REFERENCES = (
        "https://docs.openzeppelin.com/contracts/5.x/api/utils#Pausable",
    )

    def _detect(self) -> list:
        results = []
        for contract in self.compilation_unit.contracts_derived:
            pause_state = self._pause_state(contract)
            if not pause_state:
                continue
            for function in contract.functions_entry_points:
                if function.view or function.pure or function.is_constructor or not self._moves_value(function):
                    continue
                if self._access_controlled(function) or self._checks_pause(function, pause_state):
                    continue
                info = [function, " moves value but does not check whether ", contract, " is paused\n"]
                results.append(self.generate_result(info))
        return results

    @staticmethod
    def _pause_state(contract) -> set:
        """State the contract pauses with: `paused`-like variables and whatever its pause functions write
        (OpenZeppelin's Pausable, scoped or time-bounded pauses alike)."""
        state = {v for v in contract.state_variables if v.name in PAUSE_STATE}
        for function in contract.functions:
            if "pause" in ir.words(function.name):  # pause, _pause, pauseScope; not setPauser or unpause
                state.update(v for f in ir.reachable(function) for v in f.state_variables_written)
        return state

    @staticmethod
    def _moves_value(function: Function) -> bool:
        for f in ir.reachable(function):
            for node in f.nodes:
                for op in node.irs:
                    if isinstance(op, (Transfer, Send)) or (isinstance(op, LowLevelCall) and op.call_value is not None):
                        return True
                    if isinstance(op, HighLevelCall) and str(op.function_name) in TOKEN_MOVES:
                        return True
        return False

    @staticmethod
    def _checks_pause(function: Function, pause_state: set) -> bool:
        functions = ir.reachable(function)
        if any(f.name in PAUSE_HELPERS for f in functions):
            return True
        return any(v in pause_state for node in ir.conditional_nodes(functions) for v in node.state_variables_read)

    @staticmethod
    def _access_controlled(function: Function) -> bool:
        """Admin paths (only* modifiers, msg.sender checks) may be meant to work while paused (rescue)."""
        if any(m.name.startswith("only") for m in function.modifiers):
            return True
        return ir.checks_caller(function)
