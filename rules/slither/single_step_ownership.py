"""Ownership or admin rights handed over in one step (no acceptance by the new holder, no delay) on a contract
that moves funds or sets prices."""

from __future__ import annotations

from slither.core.declarations import Contract, Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification
from slither.slithir.operations import HighLevelCall, LowLevelCall, Send, Transfer

from watchdog.scan import ir

ROLE_WORDS = {"owner", "admin", "governance", "governor", "gov"}
PENDING_WORDS = {"pending", "proposed", "nominated", "candidate", "new", "future", "next"}
TRANSFER_VERBS = {"transfer", "set", "change", "update"}
MOVES = {"transfer", "transferFrom", "safeTransfer", "safeTransferFrom", "sendValue"}


class SingleStepOwnership(AbstractDetector):
    ARGUMENT = "wd-single-step-ownership"
    HELP = "Owner/admin replaced in one step (no acceptance, no delay) on a contract that moves funds or sets prices"
    IMPACT = DetectorClassification.LOW
    CONFIDENCE = DetectorClassification.HIGH
    WIKI = "https://docs.openzeppelin.com/contracts/5.x/api/access#Ownable2Step"
    WIKI_TITLE = "Single-step ownership transfer"
    WIKI_DESCRIPTION = "The owner or admin is replaced the moment the current one calls the setter: a typo or a wrong chain's address loses control of a contract that holds funds or sets prices, and a stolen key hands it over with no window to react."
    WIKI_EXPLOIT_SCENARIO = "transferOwnership(0x…) with a mistyped address: nobody can pause the market or rotate its oracle again."
    WIKI_RECOMMENDATION = "Two steps (Ownable2Step: the new owner accepts), and a timelock on admin changes of contracts that move value."
    BUG_CLASS = "access control: single-step ownership / admin change"
    EXAMPLE = "function transferOwnership(address o) external onlyOwner { owner = o; }"
    REFERENCES = (
        "https://docs.openzeppelin.com/contracts/5.x/api/access#Ownable2Step",
        "https://github.com/Decurity/semgrep-smart-contracts/blob/master/solidity/security/use-ownable2step.yaml",
    )

    def _detect(self) -> list:
        results = []
        for contract in self.compilation_unit.contracts_derived:
            if contract.is_interface or contract.is_library or not _moves_value_or_prices(contract):
                continue
            for function in contract.functions_entry_points:
                roles = _one_step_role_writes(function)
                if roles:
                    # An inherited function (Ownable's) is reported on the contract: its own file may be a library's.
                    where = [function] if function.contract_declarer == contract else [contract, " through ", function]
                    info = [*where, f" hands {', '.join(v.name for v in roles)} over in one step\n"]
                    results.append(self.generate_result(info))
        return results


def _one_step_role_writes(function: Function) -> list:
    """Owner/admin variables the function sets straight from its caller's argument."""
    first = (ir.words(function.name) or [""])[0]
    if first not in TRANSFER_VERBS or not ir.is_entry(function) or ir.is_initializer(function):
        return []
    roles = []
    for variable in ir.writes_from(function, function.parameters):
        names = set(ir.words(variable.name))
        if names & ROLE_WORDS and not names & PENDING_WORDS and ir.critical_kind(variable) == "privileged address":
            roles.append(variable)
    return roles


def _moves_value_or_prices(contract: Contract) -> bool:
    for function in contract.functions:
        for node in function.nodes:
            for op in node.irs:
                if isinstance(op, (Transfer, Send)) or (isinstance(op, LowLevelCall) and op.call_value is not None):
                    return True
                if isinstance(op, HighLevelCall) and str(op.function_name) in MOVES:
                    return True
    return any(ir.critical_kind(v) in ("price source", "price") for v in contract.state_variables)
