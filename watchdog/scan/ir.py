"""Questions about slither's IR that watchdog's detectors (rules/slither/) share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from slither.analyses.data_dependency.data_dependency import is_dependent
from slither.core.cfg.node import Node
from slither.core.declarations import Contract, Function, SolidityVariable, SolidityVariableComposed
from slither.core.declarations.function_contract import FunctionContract
from slither.core.solidity_types import ElementaryType, MappingType, UserDefinedType
from slither.core.variables.variable import Variable
from slither.slithir.operations import (
    Assignment,
    Binary,
    BinaryType,
    Condition,
    EventCall,
    HighLevelCall,
    Index,
    InternalCall,
    NewStructure,
    Return,
    SolidityCall,
    TypeConversion,
    Unary,
    Unpack,
)
from slither.slithir.variables import Constant

COMPARISONS = {
    BinaryType.EQUAL, BinaryType.NOT_EQUAL, BinaryType.LESS, BinaryType.LESS_EQUAL,
    BinaryType.GREATER, BinaryType.GREATER_EQUAL,
}
# Token and ether moves: passing msg.sender to these is not a check of msg.sender.
VALUE_MOVES = {"transfer", "transferFrom", "safeTransfer", "safeTransferFrom", "mint", "burn", "sendValue", "approve", "safeApprove"}

MSG_SENDER = SolidityVariableComposed("msg.sender")
THIS = SolidityVariable("this")
BLOCK_TIMESTAMP = SolidityVariableComposed("block.timestamp")
# Modifiers that restrict the caller without naming msg.sender in a way the IR shows (auth libraries).
AUTH_MODIFIERS = {"auth", "requiresAuth", "authenticate", "restricted", "authorized", "onlyRole"}


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


def dependent(value: object, source: object, context: Function) -> bool:
    """slither's is_dependent, False where slither computed no dependencies (functions it did not analyse,
    such as some reached only through a base contract's modifier)."""
    try:
        return is_dependent(value, source, context)
    except KeyError:
        return False


def _derived(value: object, source: object, node: Node) -> bool:
    if value is None:
        return False
    if value == source or dependent(value, source, node.function):
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
    indexes = {i for i, ret in enumerate(function.returns) if ret == source or dependent(ret, source, function)}
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


def access_controlled(function: Function) -> bool:
    """Only some callers get through: an only*/auth modifier, or a msg.sender check on the way."""
    if any(m.name.startswith("only") or m.name in AUTH_MODIFIERS for m in function.modifiers):
        return True
    return checks_caller(function)


def depends(value: object, sources: Iterable[object], function: Function) -> bool:
    """Whether `value` is one of `sources` or computed from one of them (within `function`)."""
    return value is not None and any(value == s or dependent(value, s, function) for s in sources if s is not None)


def is_this(value: object, function: Function) -> bool:
    """`this` or `address(this)`."""
    if value == THIS:
        return True
    return any(
        isinstance(op, TypeConversion) and op.lvalue == value and op.variable == THIS
        for node in function.nodes
        for op in node.irs
    )


def constant_address(value: object, function: Function) -> bool:
    """`address(0)`, `address(0xdead)` or another literal address."""
    if isinstance(value, Constant):
        return True
    return any(
        isinstance(op, TypeConversion) and op.lvalue == value and isinstance(op.variable, Constant)
        for node in function.nodes
        for op in node.irs
    )


def self_balance_reads(function: Function) -> list[HighLevelCall]:
    """`token.balanceOf(address(this))` calls of the function."""
    return [
        op
        for _, op in high_level_calls(function, {"balanceOf"})
        if op.arguments and is_this(op.arguments[0], function)
    ]


def emits(function: Function) -> bool:
    """An event is emitted on the way (the function, its modifiers or internal helpers)."""
    return any(isinstance(op, EventCall) for f in reachable(function) for node in f.nodes for op in node.irs)


def is_elementary_slot(variable: Variable) -> bool:
    """A single value (address, number, flag, contract reference), not a mapping, array or struct."""
    kind = variable.type
    if isinstance(kind, MappingType):
        return False
    if isinstance(kind, ElementaryType):
        return True
    return isinstance(kind, UserDefinedType) and isinstance(kind.type, Contract)


def int_bits(kind: object) -> int | None:
    """Width of a uintN/intN type (None for anything else)."""
    if not isinstance(kind, ElementaryType):
        return None
    match = re.fullmatch(r"u?int(\d*)", kind.name)
    if not match:
        return None
    return int(match.group(1) or 256)


def declared_functions(compilation_unit) -> Iterator[tuple[Contract, FunctionContract]]:
    """Every implemented function of every contract (not interfaces), where it is declared: each is
    analysed, and reported, once."""
    for contract in compilation_unit.contracts:
        if contract.is_interface:
            continue
        for function in contract.functions_declared:
            if function.is_implemented:
                yield contract, function


def is_entry(function: Function) -> bool:
    """An external or public function that can change state."""
    return (
        function.visibility in ("public", "external")
        and not function.is_constructor
        and not function.view
        and not function.pure
        and not function.is_fallback
        and not function.is_receive
    )


def writes_from(function: Function, sources: Iterable[Variable], depth: int = 3) -> list[Variable]:
    """State variables that the function, or an internal helper it passes them to, sets to a value
    computed from `sources` (typically the function's parameters)."""
    sources = [s for s in sources if s is not None]
    written = [v for v in function.state_variables_written if depends(v, sources, function)]
    if depth == 0:
        return written
    for node in function.nodes:
        for op in node.irs:
            callee = op.function if isinstance(op, InternalCall) else None
            if not isinstance(callee, Function):
                continue
            passed = [p for p, arg in zip(callee.parameters, op.arguments) if depends(arg, sources, function)]
            if passed:
                written += [v for v in writes_from(callee, passed, depth - 1) if v not in written]
    return written


# Words of state-variable names, by what the variable controls.
PRICE_WORDS = {"oracle", "oracles", "feed", "feeds", "aggregator", "price", "twap", "pricer"}
RISK_WORDS = {
    "fee", "fees", "ltv", "threshold", "bonus", "penalty", "cap", "ratio", "margin", "leverage", "spread",
    "slippage", "interest", "rate", "discount", "haircut", "factor", "reserve", "premium", "incentive",
}
PRIVILEGED_WORDS = {
    "owner", "admin", "governance", "governor", "gov", "guardian", "keeper", "operator", "manager", "controller",
    "treasury", "pauser", "minter", "signer", "authority", "executor", "timelock", "strategist", "liquidator",
}


def critical_kind(variable: Variable) -> str | None:
    """What a single-slot state variable controls: a price source, a fee or risk parameter, a privileged
    address; None for anything else."""
    if not is_elementary_slot(variable) or getattr(variable, "is_constant", False) or getattr(variable, "is_immutable", False):
        return None
    name_words = set(words(variable.name))
    addressish = str(variable.type) == "address" or isinstance(variable.type, UserDefinedType)
    if name_words & PRICE_WORDS:
        return "price source" if addressish else "price"
    if addressish and name_words & PRIVILEGED_WORDS:
        return "privileged address"
    if name_words & RISK_WORDS:
        return "fee or risk parameter"
    return None


INITIALIZER_WORDS = {"init", "initialize", "initialise", "initializer"}


def is_initializer(function: Function) -> bool:
    """initialize, initializeV2, init, _init... (see wd-unprotected-initializer), or an `initializer` modifier."""
    first = (words(function.name) or [""])[0]
    return first in INITIALIZER_WORDS or any(m.name in {"initializer", "reinitializer"} for m in function.modifiers)


def critical_setter_writes(function: Function) -> list[tuple[Variable, str]]:
    """(variable, what it controls) for each price source, fee/risk parameter or privileged address that an
    external function sets to a value its caller passes in."""
    if not is_entry(function) or is_initializer(function):
        return []
    written = writes_from(function, function.parameters)
    return [(v, kind) for v in written if (kind := critical_kind(v))]


# Full-precision a * b / c helpers (OpenZeppelin's Math, solmate, Uniswap's FullMath).
MUL_DIV_CALLS = {"mulDiv", "mulDivDown", "mulDivUp", "fullMulDiv", "mulDivRoundingUp"}


def divisions(function: Function) -> Iterator[tuple[Node, object, list]]:
    """(node, divisor, other operands) of each division: `a / b`, and `mulDiv(a, b, c)`-style calls."""
    for node in function.nodes:
        for op in node.irs:
            if isinstance(op, Binary) and op.type == BinaryType.DIVISION:
                yield node, op.variable_right, [op.variable_left]
            elif isinstance(op, (HighLevelCall, InternalCall)) and str(op.function_name) in MUL_DIV_CALLS:
                args = list(op.arguments)
                if len(args) >= 3:
                    yield node, args[2], args[:2]


def values_from_calls(function: Function, names: set[str], returning: Iterable[Function] = ()) -> list[Variable]:
    """Results of calls named `names` (external or internal), and of internal calls to `returning`."""
    returning = set(returning)
    found = []
    for node in function.nodes:
        for op in node.irs:
            if isinstance(op, (HighLevelCall, InternalCall)) and op.lvalue is not None:
                if str(op.function_name) in names or getattr(op, "function", None) in returning:
                    found.append(op.lvalue)
    return found


def returns_dependent_on(function: Function, sources: list[Variable]) -> bool:
    """Whether a value the function returns is computed from `sources`."""
    if any(depends(ret, sources, function) for ret in function.returns):
        return True
    return any(
        isinstance(op, Return) and any(depends(v, sources, function) for v in op.values)
        for node in function.nodes
        for op in node.irs
    )


SWAP_VERBS = {"swap", "exact", "exchange", "trade", "sell"}
# Quotes of the pool's current state: a minimum computed from them moves with the pool it protects against.
SPOT_QUOTES = {
    "getAmountsOut", "getAmountOut", "getAmountsIn", "getAmountIn", "quote", "get_dy", "get_dy_underlying",
    "getReserves", "slot0", "quoteExactInputSingle", "quoteExactInput", "querySwap", "queryBatchSwap",
    "calc_token_amount", "previewSwap",
}


def _is_min_output(name: str) -> bool:
    parts = set(words(name))
    return name == "limit" or ("min" in parts and bool(parts & {"out", "dy", "return", "amount", "received", "output"})) or "minimum" in parts


def swap_arguments(function: Function) -> Iterator[tuple[Node, HighLevelCall, object | None, object | None]]:
    """(node, call, minimum-output argument, deadline argument) for each call to a router or pool swap, found by
    the callee's parameter names (amountOutMin, min_dy, limit, deadline...) or those of its struct argument
    (amountOutMinimum and deadline in exactInputSingle's params)."""
    for node in function.nodes:
        for op in node.irs:
            if not isinstance(op, HighLevelCall) or not isinstance(op.function, Function):
                continue
            if not SWAP_VERBS & set(words(str(op.function_name))):
                continue
            minimum = deadline = None
            for param, arg in zip(op.function.parameters, op.arguments):
                if _is_min_output(param.name):
                    minimum = arg
                elif param.name.lower().strip("_") == "deadline":
                    deadline = arg
                else:
                    fields = _struct_fields(function, arg)
                    minimum = next((v for k, v in fields.items() if _is_min_output(k)), minimum)
                    deadline = fields.get("deadline", deadline)
            if minimum is not None or deadline is not None:
                yield node, op, minimum, deadline


def public_swaps(unit) -> Iterator[tuple[Function, Function, Node, HighLevelCall, object | None, object | None]]:
    """(entry function, the function making the call, node, call, minimum output, deadline) for every swap that an
    entry point anyone may call reaches."""
    for _, function in declared_functions(unit):
        if not is_entry(function) or access_controlled(function):
            continue
        for helper in reachable(function):
            for node, call, minimum, deadline in swap_arguments(helper):
                yield function, helper, node, call, minimum, deadline


def _struct_fields(function: Function, value: object) -> dict[str, object]:
    """Field name -> value of a struct built in the function (`Params({...})`), when `value` is one."""
    for node in function.nodes:
        for op in node.irs:
            if isinstance(op, NewStructure) and op.lvalue == value:
                names = [e.name for e in op.structure.elems_ordered]
                return dict(zip(names, op.arguments))
    return {}


def is_zero(value: object, function: Function) -> bool:
    """The literal 0, or a local only ever assigned the literal 0."""
    if isinstance(value, Constant):
        return value.value == 0
    assigned = [op.rvalue for node in function.nodes for op in node.irs if isinstance(op, Assignment) and op.lvalue == value]
    return bool(assigned) and all(isinstance(v, Constant) and v.value == 0 for v in assigned)
