"""An external call whose target and calldata the caller chooses, in a contract that holds tokens or users'
approvals."""

from __future__ import annotations

from slither.core.declarations import Contract, Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification
from slither.slithir.operations import Binary, BinaryType, HighLevelCall, Index, InternalCall, LibraryCall, LowLevelCall

from watchdog.scan import ir

HOLDS_TOKENS = {"transferFrom", "safeTransferFrom", "transfer", "safeTransfer", "balanceOf"}
# Library helpers that forward to target.call(data).
CALL_HELPERS = {"functionCall", "functionCallWithValue", "call"}


class ArbitraryCall(AbstractDetector):
    ARGUMENT = "wd-arbitrary-call"
    HELP = "External call with caller-chosen target and calldata in a contract holding tokens or approvals"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://github.com/crytic/slither/wiki/Detector-Documentation#arbitrary-from-in-transferfrom"
    WIKI_TITLE = "Arbitrary external call"
    WIKI_DESCRIPTION = "Anyone can make the contract call any address with any data. The contract holds tokens and users' approvals, so the call can be token.transferFrom(victim, attacker, amount) or token.transfer(attacker, balance)."
    WIKI_EXPLOIT_SCENARIO = "An aggregator's swap(target, data) is called with target = USDC and data = transferFrom(user, attacker, allowance): every user who approved the aggregator is drained."
    WIKI_RECOMMENDATION = "Allow-list call targets (or selectors), never call token contracts with caller-supplied data, and keep no standing approvals on contracts that make arbitrary calls."
    BUG_CLASS = "arbitrary call: caller-chosen target and calldata"
    EXAMPLE = "function execute(address target, bytes calldata data) external { target.call(data); }  // contract holds approvals"
    REFERENCES = (
        "https://github.com/Decurity/semgrep-smart-contracts/blob/master/solidity/security/arbitrary-low-level-call.yaml",
        "https://github.com/crytic/slither/wiki/Detector-Documentation#arbitrary-from-in-transferfrom",
    )

    def _detect(self) -> list:
        results = []
        for contract in self.compilation_unit.contracts_derived:
            if contract.is_interface or contract.is_library or not self._holds_tokens(contract):
                continue
            for function in contract.functions_entry_points:
                if function.view or function.pure or ir.access_controlled(function):
                    continue
                node = _chosen_call(function, function.parameters, depth=3)
                if node is not None:
                    # An inherited function is reported on the contract: its own file may be a library's.
                    where = [function] if function.contract_declarer == contract else [contract, ".", function]
                    info = [*where, " lets its caller choose both the target and the calldata of ", node, "\n"]
                    results.append(self.generate_result(info))
        return results

    @staticmethod
    def _holds_tokens(contract: Contract) -> bool:
        return any(
            isinstance(op, HighLevelCall) and not isinstance(op, LibraryCall) and str(op.function_name) in HOLDS_TOKENS
            or isinstance(op, LibraryCall) and str(op.function_name) in {"safeTransferFrom", "safeTransfer"}
            for function in contract.functions
            for node in function.nodes
            for op in node.irs
        )


def _allow_listed(value, function: Function) -> bool:
    """A condition restricts the value to known ones: a lookup (`allowed[target]`), a comparison with something
    that is not a literal (`target == router`), or a check helper (`isTrusted(target)`). `target != address(0)`
    restricts nothing."""
    for node in ir.conditional_nodes([function]):
        for op in node.irs:
            if isinstance(op, Index) and ir.depends(op.variable_right, [value], function):
                return True
            if isinstance(op, Binary) and op.type in (BinaryType.EQUAL, BinaryType.NOT_EQUAL):
                sides = (op.variable_left, op.variable_right)
                for side, other in (sides, sides[::-1]):
                    if ir.depends(side, [value], function) and not ir.constant_address(other, function):
                        return True
            if isinstance(op, (InternalCall, HighLevelCall)) and str(op.function_name) not in ir.VALUE_MOVES:
                if any(ir.depends(arg, [value], function) for arg in op.arguments):
                    return True
    return False


def _chosen_call(function: Function, sources: list, depth: int):
    """The node of a low-level call (or Address.functionCall) whose target and data both come from `sources`,
    in the function or in the internal/library helpers they are passed to. A value that a condition checks
    (an allow-list of targets or selectors) is no longer the caller's free choice."""
    sources = [s for s in sources if not _allow_listed(s, function)]
    for node in function.nodes:
        for op in node.irs:
            if isinstance(op, LowLevelCall) and op.arguments:
                if ir.depends(op.destination, sources, function) and ir.depends(op.arguments[0], sources, function):
                    return node
            elif isinstance(op, LibraryCall) and str(op.function_name) in CALL_HELPERS and len(op.arguments) >= 2:
                if ir.depends(op.arguments[0], sources, function) and ir.depends(op.arguments[1], sources, function):
                    return node
            elif depth and isinstance(op, InternalCall) and isinstance(op.function, Function):
                passed = [p for p, arg in zip(op.function.parameters, op.arguments) if ir.depends(arg, sources, function)]
                if len(passed) >= 2 and _chosen_call(op.function, passed, depth - 1) is not None:
                    return node
    return None
