"""Why a simulated call reverted, in words: Error(string), Panic(uint256), a custom error of a known ABI."""

from __future__ import annotations

import json
from typing import Any

from eth_abi import decode
from eth_abi.exceptions import DecodingError

from watchdog.chain.abi import canonical_type, plain, selector

ERROR_STRING, PANIC = "0x08c379a0", "0x4e487b71"


def revert_reason(data: Any, abis: list[list[dict[str, Any]]] = ()) -> str:
    """A short text for revert data (the `data` of a JSON-RPC error): the message of Error(string), the panic
    code, a custom error decoded with the first ABI that declares it, or the raw selector."""
    if isinstance(data, dict):
        data = data.get("data")
    if not isinstance(data, str) or len(data) < 10:
        return "without a reason"
    head, body = data[:10].lower(), bytes.fromhex(data[10:])
    try:
        if head == ERROR_STRING:
            return json.dumps(decode(["string"], body)[0])
        if head == PANIC:
            return f"panic 0x{decode(['uint256'], body)[0]:x}"
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [canonical_type(p) for p in item.get("inputs", [])]
                if selector(f"{item['name']}({','.join(types)})") == head:
                    values = ", ".join(str(plain(v)) for v in decode(types, body))
                    return f"{item['name']}({values})"
    except (DecodingError, ValueError):
        pass
    return f"error {head}"
