"""Reading views without an ABI: many calls in one JSON-RPC batch, and an answer counted only when it decodes
as the return types say (a contract without the function reverts, or a fallback answers nothing useful)."""

from __future__ import annotations

from typing import Any

from eth_abi.exceptions import DecodingError

from watchdog.chain.abi import decode_result, encode_call, parse_call
from watchdog.chain.rpc import RpcAnswerError, RpcClient

ZERO_ADDRESS = "0x" + "00" * 20


def decode_answer(signature: str, raw: Any) -> tuple[Any, ...] | None:
    """The values of a call's result, or None when it is no answer of that shape."""
    try:
        return decode_result(signature, raw)
    except (DecodingError, ValueError, TypeError):  # empty, short, badly padded or not valid UTF-8
        return None


def zero_arguments(signature: str) -> list[Any]:
    """Neutral arguments to call a view with when there is nothing better (0, the zero address, false...)."""
    values: list[Any] = []
    for kind in parse_call(signature)[1]:
        if kind == "address":
            values.append(ZERO_ADDRESS)
        elif kind == "bool":
            values.append(False)
        elif kind.startswith("bytes") and kind != "bytes":
            values.append(b"\0" * int(kind[5:]))
        elif kind in ("bytes", "string") or kind.endswith("]"):
            values.append(b"" if kind == "bytes" else "" if kind == "string" else [])
        else:
            values.append(0)
    return values


def read_views(rpc: RpcClient, calls: list[tuple[str, str]], block: str = "latest") -> list[tuple[Any, ...] | None]:
    """(address, view signature) pairs read in one batch, each called with neutral arguments; None where the
    view did not answer."""
    requests = [("eth_call", [{"to": to, "data": encode_call(sig, zero_arguments(sig))}, block]) for to, sig in calls]
    results = rpc.batch(requests, errors_as_values=True)
    return [None if isinstance(raw, RpcAnswerError) else decode_answer(sig, raw) for (_, sig), raw in zip(calls, results)]
