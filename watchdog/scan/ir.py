"""Questions about slither's IR that watchdog's detectors (rules/slither/) share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from slither.analyses.data_dependency.data_dependency import is_dependent
from slither.core.cfg.node import Node
from slither.core.declarations import Contract, Function, SolidityVariableComposed
from slither.core.declarations.function_contract import FunctionContract
from slither.core.variables.variable import Variable
from slither.slithir.operations import (
    Binary,
    BinaryType,
    Condition,
    HighLevelCall,
    Index,
    InternalCall,
    Return,
    SolidityCall,
    Unary,
    Unpack,
)

COMPARISONS = {
    BinaryType.EQUAL, BinaryType.NOT_EQUAL, BinaryType.LESS, BinaryType.LESS_EQUAL,
    BinaryType.GREATER, BinaryType.GREATER_EQUAL,
}
# Token and ether moves: passing msg.sender to these is not a check of msg.sender.
VALUE_MOVES = {"transfer", "transferFrom", "safeTransfer", "safeTransferFrom", "mint", "burn", "sendValue", "approve", "safeApprove"}

MSG_SENDER = SolidityVariableComposed("msg.sender")


def reachable(function: Function) -> list[Function]:
    """The function, its modifiers and every internal function they call, transitively."""
    seen: dict[Function, None] = {}
    stack: list[Function] = [function]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen[current] = None
        stack.extend(m for m in getattr(current, "modifiers", []) if isinstance(m, Function))
        # internal_calls holds InternalCall operations (slither >= 0.10) or functions (older releases).
        targets = (getattr(call, "function", call) for call in current.internal_calls)
        stack.extend(t for t in targets if isinstance(t, Function))
    return list(seen)


def conditional_nodes(functions: Iterable[Function]) -> Iterator[Node]:
    """Nodes that can stop execution on a value: if/loop conditions, require/assert, revert branches."""
    for function in functions:
        for node in function.nodes:
            if node.is_conditional(include_loop=True) or node.contains_require_or_assert():
                yield node


def _derived(value: object, source: object, node: Node) -> bool:
    if value is None:
        return False
    if value == source or is_dependent(value, source, node.function):
        return True
    # OpenZeppelin's Context: _msgSender() is msg.sender.
    return source == MSG_SENDER and str(value) == "_msgSender()"


def gates(node: Node, source: Variable | SolidityVariableComposed) -> bool:
    """Whether this conditional node decides on `source`: compares it, looks it up (allow-lists), or passes
    it to a check (hasRole, isTrusted...), rather than merely reading it (e.g. as a transfer argument)."""
    for op in node.irs:
        if isinstance(op, Binary) and op.type in COMPARISONS:
            if _derived(op.variable_left, source, node) or _derived(op.variable_right, source, node):
                return True
        elif isinstance(op, Index) and _derived(op.variable_right, source, node):
            return True
        elif isinstance(op, (InternalCall, HighLevelCall)) and str(op.function_name) not in VALUE_MOVES:
            if any(_derived(arg, source, node) for arg in op.arguments):
                return True
        elif isinstance(op, Unary) and _derived(op.rvalue, source, node):
            return True
        elif isinstance(op, Condition) and op.value == source:  # `if (flag)` on the value itself
            return True
        elif isinstance(op, SolidityCall) and op.arguments[:1] == [source]:  # `require(flag)`
            return True
    return False


def checked(source: Variable | SolidityVariableComposed, functions: Iterable[Function]) -> bool:
    """Whether some condition in `functions` decides on `source` or a value computed from it."""
    return any(gates(node, source) for node in conditional_nodes(functions))


def checks_caller(function: Function) -> bool:
    """msg.sender is compared somewhere on the way (the function, its modifiers or internal helpers)."""
    return checked(MSG_SENDER, reachable(function))


def high_level_calls(function: Function, names: set[str]) -> Iterator[tuple[Node, HighLevelCall]]:
    for node in function.nodes:
        for ir in node.irs:
            if isinstance(ir, HighLevelCall) and str(ir.function_name) in names:
                yield node, ir


def unpacked(function: Function, call: HighLevelCall) -> dict[int, Variable]:
    """Tuple components of `call`'s result by index, as unpacked into local variables."""
    components: dict[int, Variable] = {}
    if call.lvalue is None:
        return components
    for node in function.nodes:
        for ir in node.irs:
            if isinstance(ir, Unpack) and ir.tuple == call.lvalue:
                components[ir.index] = ir.lvalue
    if not components and call.lvalue is not None:
        components[0] = call.lvalue  # a single return value
    return components


def checked_flow(source: Variable, function: Function, contract: Contract, depth: int = 3) -> bool:
    """Whether a local value is gated by a condition: in its function, in an internal function it is passed
    to (as that function's parameter), or in a caller it is returned to (as the call's result)."""
    if checked(source, [function]):
        return True
    if depth == 0:
        return False
    for node in function.nodes:
        for op in node.irs:
            callee = op.function if isinstance(op, InternalCall) else None
            if not isinstance(callee, Function):
                continue
            for index, arg in enumerate(op.arguments[: len(callee.parameters)]):
                if _derived(arg, source, node) and checked_flow(callee.parameters[index], callee, contract, depth - 1):
                    return True
    returned = _returned_indexes(function, source)
    if not returned:
        return False
    for caller in callers(function, contract):
        for node in caller.nodes:
            for op in node.irs:
                if isinstance(op, InternalCall) and op.function == function and op.lvalue is not None:
                    results = {0: op.lvalue} | {
                        u.index: u.lvalue for n in caller.nodes for u in n.irs if isinstance(u, Unpack) and u.tuple == op.lvalue
                    }
                    if any(i in results and checked_flow(results[i], caller, contract, depth - 1) for i in returned):
                        return True
    return False


def _returned_indexes(function: Function, source: Variable) -> set[int]:
    """Which of the function's return values carry `source` (named returns, or `return` statements)."""
    indexes = {i for i, ret in enumerate(function.returns) if ret == source or is_dependent(ret, source, function)}
    for node in function.nodes:
        for op in node.irs:
            if isinstance(op, Return):
                indexes.update(i for i, value in enumerate(op.values) if _derived(value, source, node))
    return indexes


def callers(function: Function, contract: Contract) -> list[FunctionContract]:
    """Functions of `contract` that call `function` internally."""
    return [
        f
        for f in contract.functions
        if any(isinstance(ir, InternalCall) and ir.function == function for node in f.nodes for ir in node.irs)
    ]


def destination_name(call: HighLevelCall) -> str:
    """A readable name for what is called: the state variable, local or expression it is called on."""
    return getattr(call.destination, "name", None) or str(call.destination)


def name_has(name: str, needles: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(needle in lowered for needle in needles)


def words(name: str) -> list[str]:
    """Lower-case words of an identifier: `setPauser` -> [set, pauser], `L2_GRACE` -> [l2, grace]."""
    # One character and a lookahead per position (linear): a run of capitals ends before a capitalised word.
    spaced = re.sub(r"([A-Z])(?=[A-Z][a-z])", r"\1 ", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name))
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]
