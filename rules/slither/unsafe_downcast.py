"""Unsafe downcasts in accounting: a uint256 (or int256) stored as a narrower integer with no bound check."""

from __future__ import annotations

from slither.core.declarations import Function, SolidityVariableComposed
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification
from slither.slithir.operations import Binary, BinaryType, InternalCall, Length, TypeConversion
from slither.slithir.variables import Constant

from watchdog.scan import ir

# Casts of these values wrap on purpose (timestamps and block numbers in uint32/uint40 slots).
CLOCKS = [SolidityVariableComposed("block.timestamp"), SolidityVariableComposed("block.number")]
# A value masked or shifted down is already bounded.
BOUNDING_OPS = {BinaryType.AND, BinaryType.RIGHT_SHIFT, BinaryType.MODULO}


class UnsafeDowncast(AbstractDetector):
    ARGUMENT = "wd-unsafe-downcast"
    HELP = "uint256 stored as uint128/uint96/... without a bound check (silent truncation in accounting)"
    IMPACT = DetectorClassification.MEDIUM
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://docs.openzeppelin.com/contracts/5.x/api/utils#SafeCast"
    WIKI_TITLE = "Unsafe downcast in accounting"
    WIKI_DESCRIPTION = "Solidity's explicit conversions to a narrower integer truncate silently, even with checked arithmetic: a balance, share or debt stored as uint128(x) loses its high bits when x is large."
    WIKI_EXPLOIT_SCENARIO = "deposit(2**128 + 1) of a cheap token records uint128(amount) == 1 as the debt while minting shares for the full amount."
    WIKI_RECOMMENDATION = "Use SafeCast (toUint128...) or require(x <= type(uint128).max) before storing."
    BUG_CLASS = "arithmetic: unchecked narrowing cast"
    EXAMPLE = "positions[user].debt = uint128(amount);  // truncates above 2**128"
    REFERENCES = (
        "https://docs.openzeppelin.com/contracts/5.x/api/utils#SafeCast",
        "https://docs.soliditylang.org/en/latest/types.html#explicit-conversions",
    )

    def _detect(self) -> list:
        results = []
        for contract, function in ir.declared_functions(self.compilation_unit):
            if contract.is_library and not function.state_variables_written:
                continue  # SafeCast-style helpers check, or are meant to wrap; libraries that write storage do not
            for node, conversion in _stored_downcasts(function):
                if not _upper_bounded(conversion.variable, function, contract):
                    info = [function, f" stores a {conversion.variable.type} as {conversion.type} with no bound check at ", node, "\n"]
                    results.append(self.generate_result(info))
        return results


def _stored_downcasts(function: Function):
    for node in function.nodes:
        if not node.state_variables_written:
            continue
        for op in node.irs:
            if not isinstance(op, TypeConversion) or isinstance(op.variable, Constant):
                continue
            to_bits, from_bits = ir.int_bits(op.type), ir.int_bits(getattr(op.variable, "type", None))
            if to_bits is None or from_bits is None or to_bits >= from_bits:
                continue
            if str(op.type).startswith("int") != str(op.variable.type).startswith("int"):
                continue  # a sign change is a different question
            if ir.depends(op.variable, CLOCKS, function) or _bounded(function, op.variable):
                continue
            yield node, op


UPPER_BOUNDS = {BinaryType.LESS: 0, BinaryType.LESS_EQUAL: 0, BinaryType.GREATER: 1, BinaryType.GREATER_EQUAL: 1}


def _upper_bounded(value, function: Function, contract, depth: int = 2) -> bool:
    """A condition caps the value from above (`x <= max`, `max > x`) in the function, its modifiers or the
    internal helpers it is passed to; `x > 0` is no bound. An array length counts as capped when a condition
    caps a length of the same array (a modifier given `signers.length` while `args.signers.length` is cast)."""
    roots = _length_roots(function, value)

    def same(candidate, where: Function) -> bool:
        return ir.depends(candidate, [value], where) or bool(roots and roots & _length_roots(where, candidate))

    for f in ir.reachable(function):
        for node in ir.conditional_nodes([f]):
            for op in node.irs:
                side = UPPER_BOUNDS.get(op.type) if isinstance(op, Binary) else None
                if side is not None and same((op.variable_left, op.variable_right)[side], f):
                    return True
    if depth == 0:
        return False
    for node in function.nodes:
        for op in node.irs:
            callee = getattr(op, "function", None)
            if isinstance(op, InternalCall) and isinstance(callee, Function):
                for param, arg in zip(callee.parameters, op.arguments):
                    if same(arg, function) and _upper_bounded(param, callee, contract, depth - 1):
                        return True
    return False


def _length_roots(function: Function, value) -> set:
    """The parameters an array length is computed from, when `value` is an array length."""
    if not any(isinstance(op, Length) and op.lvalue == value for node in function.nodes for op in node.irs):
        return set()
    return {p for p in function.parameters if ir.depends(value, [p], function)}


def _bounded(function: Function, value) -> bool:
    """The value comes straight from a mask, a shift down or a modulo."""
    return any(
        isinstance(op, Binary) and op.type in BOUNDING_OPS and op.lvalue == value
        for node in function.nodes
        for op in node.irs
    )
