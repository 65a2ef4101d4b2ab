"""Call traces of a whole block in one request, and the callTracer-shaped frames rules read.

Tracing one transaction makes the node re-execute its block up to that transaction, so one trace per watched
transaction costs (watched transactions x block size). A block's traces come in one call instead: `trace_block`
(parity style, a flat list per transaction; nodes that keep traces answer it without executing anything) or
`debug_traceBlockByNumber` with the callTracer (one execution of the block); batched `debug_traceTransaction`
remains for a few transactions near the top of a block, and for nodes without block tracing.
"""

from __future__ import annotations

from typing import Any

from watchdog.chain import parse
from watchdog.chain.events import CallFrame

CALL_TRACER = {"tracer": "callTracer", "tracerConfig": {"withLog": True}}
RawTrace = list[dict[str, Any]] | dict[str, Any]  # parity entries of one transaction, or one callTracer frame


def group_parity(entries: Any) -> dict[str, list[dict[str, Any]]]:
    """`trace_block` entries grouped by transaction hash, in the order of the block (block rewards dropped)."""
    if not isinstance(entries, list):
        raise parse.BadRpcAnswer(f"trace_block answered {type(entries).__name__}, not a list")
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        tx_hash = entry.get("transactionHash") if isinstance(entry, dict) else None
        if isinstance(tx_hash, str):
            out.setdefault(tx_hash.lower(), []).append(entry)
    return out


def top_call(entries: list[dict[str, Any]], block_number: int) -> dict[str, Any]:
    """The transaction as a JSON-RPC transaction object, from the top frame of its parity trace (what rules read
    of a mined transaction: sender, target, calldata, value, position)."""
    top = next((e for e in entries if not e.get("traceAddress")), entries[0])
    action = top.get("action") or {}
    created = top.get("type") == "create"
    return {"hash": top["transactionHash"], "from": action.get("from"),
            "to": None if created else action.get("to"), "input": action.get("init" if created else "input") or "0x",
            "value": action.get("value") or "0x0", "blockNumber": hex(block_number),
            "transactionIndex": hex(int(top.get("transactionPosition") or 0))}


def frame(raw: RawTrace, tx_hash: str, block_number: int | None) -> CallFrame | None:
    """A callTracer-shaped frame tree from either answer shape."""
    if isinstance(raw, dict):
        return parse.call_frame(raw, tx_hash, block_number)
    return _parity_tree(raw) if raw else None


_CALL_TYPES = {"call": "CALL", "delegatecall": "DELEGATECALL", "staticcall": "STATICCALL", "callcode": "CALLCODE"}


def _parity_tree(entries: list[dict[str, Any]]) -> CallFrame:
    """Parity entries come depth first, each with its path from the top (`traceAddress`)."""
    frames: dict[tuple[int, ...], CallFrame] = {}
    root: CallFrame | None = None
    try:
        for entry in entries:
            node = _parity_frame(entry)
            path = tuple(entry.get("traceAddress") or ())
            frames[path] = node
            if not path:
                root = node
            else:
                frames[path[:-1]].calls.append(node)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise parse.BadRpcAnswer(f"malformed trace_block entry ({type(exc).__name__}: {exc})") from exc
    if root is None:
        raise parse.BadRpcAnswer("trace_block gave a transaction without its top frame")
    return root


def _parity_frame(entry: dict[str, Any]) -> CallFrame:
    action, result, kind = entry["action"], entry.get("result") or {}, entry["type"]
    value = int(action.get("value") or action.get("balance") or "0x0", 16)
    if kind == "create":
        method = str(action.get("creationMethod") or "create").upper()
        return CallFrame(method, action["from"].lower(), (result.get("address") or "").lower() or None,
                         action.get("init") or "0x", result.get("code"), value, entry.get("error"))
    if kind == "suicide":
        return CallFrame("SELFDESTRUCT", action["address"].lower(), (action.get("refundAddress") or "").lower() or None,
                         "0x", None, value, entry.get("error"))
    return CallFrame(_CALL_TYPES.get(str(action.get("callType")).lower(), "CALL"), action["from"].lower(),
                     (action.get("to") or "").lower() or None, action.get("input") or "0x", result.get("output"),
                     value, entry.get("error"))
