"""Tokens credited by the amount argument instead of the balance difference (fee-on-transfer, rebasing)."""

from __future__ import annotations

from slither.core.declarations import Contract, Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification
from slither.slithir.operations import Binary, BinaryType, HighLevelCall, InternalCall, LibraryCall

from watchdog.scan import ir

PULLS = {"transferFrom", "safeTransferFrom"}


class FeeOnTransferCredit(AbstractDetector):
    ARGUMENT = "wd-fee-on-transfer"
    HELP = "Deposit credited by the amount argument, not the balance received (fee-on-transfer, rebasing tokens)"
    IMPACT = DetectorClassification.MEDIUM
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://github.com/d-xo/weird-erc20#fee-on-transfer"
    WIKI_TITLE = "Credit by amount instead of balance received"
    WIKI_DESCRIPTION = "The contract pulls `amount` with transferFrom and credits `amount`. A fee-on-transfer or rebasing token delivers less (or later changes the balance), so the books exceed the tokens held and the last users cannot withdraw."
    WIKI_EXPLOIT_SCENARIO = "With a 1% transfer fee, each deposit of 100 credits 100 but adds 99; a depositor withdraws 100 and takes one token from everyone else, repeatedly."
    WIKI_RECOMMENDATION = "Credit balanceOf(this) after the transfer minus balanceOf(this) before it, or reject tokens whose received amount differs."
    BUG_CLASS = "weird ERC-20: fee-on-transfer / rebasing credit"
    EXAMPLE = "token.transferFrom(msg.sender, address(this), amount); balances[msg.sender] += amount;"
    REFERENCES = (
        "https://github.com/d-xo/weird-erc20#fee-on-transfer",
        "https://github.com/crytic/building-secure-contracts/blob/master/development-guidelines/token_integration.md",
    )

    def _detect(self) -> list:
        results = []
        for contract, function in ir.declared_functions(self.compilation_unit):
            for node, amount in _pulls_to_self(function):
                credited = _credited(contract, function, amount)
                if credited:
                    names = ", ".join(v.name for v in credited)
                    info = [function, " credits ", names, " with the amount requested at ", node, ", not the balance received\n"]
                    results.append(self.generate_result(info))
        return results


def _pulls_to_self(function: Function):
    """(node, amount) of each transferFrom into this contract."""
    for node in function.nodes:
        for op in node.irs:
            if not isinstance(op, HighLevelCall) or str(op.function_name) not in PULLS:
                continue
            args = list(op.arguments)
            if isinstance(op, LibraryCall) and len(args) == 4:  # SafeERC20.safeTransferFrom(token, from, to, amount)
                args = args[1:]
            if len(args) == 3 and ir.is_this(args[1], function):
                yield node, args[2]


def _credited(contract: Contract, function: Function, amount) -> list:
    """State totals raised by `amount` in the function (or a helper given it), or in the callers that pass it
    in; none when the function or a caller measures balanceOf(this) (the balance difference)."""
    scopes = [(function, [amount])]
    param = next((p for p in function.parameters if ir.depends(amount, [p], function)), None)
    if param is not None and function.visibility in ("internal", "private"):
        index = function.parameters.index(param)
        for caller in ir.callers(function, contract):
            for node in caller.nodes:
                for op in node.irs:
                    if isinstance(op, InternalCall) and op.function == function and len(op.arguments) > index:
                        scopes.append((caller, [op.arguments[index]]))
    credited = []
    for scope, sources in scopes:
        if any(ir.self_balance_reads(f) for f in ir.reachable(scope)):
            return []
        credited += [v for v in _raised(scope, sources) if v not in credited]
    return credited


def _raised(function: Function, sources: list, depth: int = 2) -> list:
    """State variables the function (or helpers it passes the value to) increases by a value from `sources`."""
    raised = []
    for node in function.nodes:
        for op in node.irs:
            if isinstance(op, Binary) and op.type == BinaryType.ADDITION:
                if any(ir.depends(v, sources, function) for v in (op.variable_left, op.variable_right)):
                    raised += [v for v in node.state_variables_written if v not in raised]
            elif depth and isinstance(op, InternalCall) and isinstance(op.function, Function):
                passed = [p for p, arg in zip(op.function.parameters, op.arguments) if ir.depends(arg, sources, function)]
                if passed:
                    raised += [v for v in _raised(op.function, passed, depth - 1) if v not in raised]
    return raised
