"""Which functions a contract has: selectors from its ABI, or from its runtime code when there is no ABI."""

from __future__ import annotations

from typing import Any

from watchdog.chain.abi import canonical_type, selector
from watchdog.detect import bytecode

PUSH1, PUSH4, DUP1, DUP16, EQ = 0x60, 0x63, 0x80, 0x8F, 0x14


def abi_functions(abi: list[dict[str, Any]]) -> dict[str, str]:
    """Selector (0x-prefixed) -> signature of every function of an ABI."""
    out = {}
    for item in abi:
        if item.get("type") == "function" and item.get("name"):
            signature = f"{item['name']}({','.join(canonical_type(p) for p in item.get('inputs', []))})"
            out[selector(signature)] = signature
    return out


def dispatcher_selectors(code_hex: str) -> set[str]:
    """Selectors the function dispatcher compares the calldata with (0x-prefixed): a constant pushed and then
    compared by EQ, directly or after one DUP — solc's `DUP1 PUSH4 sel EQ PUSH2 dest JUMPI`. Selectors that start
    with zero bytes are pushed shorter (PUSH3 for 0x00a718a9), so PUSH1 to PUSH4 count. Constants pushed for
    other reasons (the selector of a function this contract calls elsewhere) are not followed by EQ."""
    body = bytecode.split_metadata(bytes.fromhex(code_hex.removeprefix("0x")))[0]
    found: set[str] = set()
    pc = 0
    while pc < len(body):
        op = body[pc]
        if PUSH1 <= op <= PUSH1 + 31:
            size = op - PUSH1 + 1
            if op <= PUSH4:
                after = body[pc + 1 + size : pc + 3 + size]
                if after[:1] == bytes([EQ]) or (len(after) == 2 and DUP1 <= after[0] <= DUP16 and after[1] == EQ):
                    found.add("0x" + body[pc + 1 : pc + 1 + size].rjust(4, b"\0").hex())
            pc += 1 + size
            continue
        pc += 1
    return found


def code_selectors(code_hex: str) -> set[str]:
    """Every selector the code may answer, leniently: the dispatcher's and any other 4-byte constant (a check that
    reports a function as missing must not be fooled by an unusual compiler's dispatcher)."""
    return dispatcher_selectors(code_hex) | {"0x" + s for s in bytecode.analyse(code_hex).selectors}
