"""Raw JSON-RPC objects -> typed events. A malformed object raises BadRpcAnswer (never a crash further on)."""

from __future__ import annotations

from typing import Any, Callable

from watchdog.chain.events import Block, CallFrame, Log, Tx
from watchdog.errors import RpcError
from watchdog.validation import shown


class BadRpcAnswer(RpcError):
    """The node answered, but the answer is not what the JSON-RPC spec promises."""


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def quantity(raw: Any, what: str) -> int:
    """A JSON-RPC quantity (a hex number) such as the answer of eth_chainId or eth_blockNumber."""
    try:
        return int(raw, 16)
    except (TypeError, ValueError):
        raise BadRpcAnswer(f"the node answered {what} with {shown(raw)}, not a hex number: "
                           "is it an Ethereum JSON-RPC endpoint?") from None


def block(raw: Any) -> Block:
    try:
        return Block(
            number=_int(raw["number"]),
            hash=raw["hash"].lower(),
            parent_hash=raw["parentHash"].lower(),
            timestamp=_int(raw["timestamp"]),
            base_fee=_int(raw["baseFeePerGas"]) if raw.get("baseFeePerGas") else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRpcAnswer(f"malformed block object ({type(exc).__name__}: {exc})") from exc


def log_entry(raw: Any) -> Log:
    return log_entries([raw])[0]


def log_entries(raws: Any, decode: Callable[[str, tuple[str, ...], str], tuple[str | None, dict[str, Any] | None, str | None]]
                | None = None) -> list[Log]:
    """Logs of an eth_getLogs answer, decoded on the way by `decode(address, topics, data) -> (event,
    args, contract)` when given. The ingestion hot path: one loop, positional construction."""
    out: list[Log] = []
    append = out.append
    try:
        for raw in raws:
            address = raw["address"].lower()
            topics = tuple([t.lower() for t in raw["topics"]])
            data = raw.get("data") or "0x"
            number = raw["blockNumber"]
            block_hash = raw["blockHash"]
            tx_index, log_index = raw.get("transactionIndex") or 0, raw.get("logIndex") or 0
            event, args, contract = decode(address, topics, data) if decode else (None, None, None)
            append(Log(
                address, topics, data,
                None if number is None else int(number, 16) if isinstance(number, str) else int(number),
                block_hash.lower() if block_hash else None,
                raw["transactionHash"].lower(),
                int(tx_index, 16) if isinstance(tx_index, str) else int(tx_index),
                int(log_index, 16) if isinstance(log_index, str) else int(log_index),
                event, args, contract,
            ))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRpcAnswer(f"malformed log object ({type(exc).__name__}: {exc})") from exc
    return out


def tx(raw: Any) -> Tx:
    try:
        return Tx(
            hash=raw["hash"].lower(),
            sender=raw["from"].lower(),
            to=raw["to"].lower() if raw.get("to") else None,
            input=raw.get("input") or raw.get("data") or "0x",
            value=_int(raw.get("value") or 0),
            block_number=_int(raw["blockNumber"]) if raw.get("blockNumber") is not None else None,
            index=_int(raw["transactionIndex"]) if raw.get("transactionIndex") is not None else None,
            nonce=_int(raw.get("nonce") or 0),
            gas=_int(raw.get("gas") or 0),
            max_fee=_int(raw["maxFeePerGas"]) if raw.get("maxFeePerGas") else None,
            max_priority_fee=_int(raw["maxPriorityFeePerGas"]) if raw.get("maxPriorityFeePerGas") else None,
            gas_price=_int(raw["gasPrice"]) if raw.get("gasPrice") else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRpcAnswer(f"malformed transaction object ({type(exc).__name__}: {exc})") from exc


def call_frame(raw: Any, tx_hash: str = "", block_number: int | None = None) -> CallFrame:
    """A callTracer frame (with `withLog` logs) and its children."""
    try:
        frame = CallFrame(
            type=raw["type"],
            sender=raw["from"].lower(),
            to=raw["to"].lower() if raw.get("to") else None,
            input=raw.get("input") or "0x",
            output=raw.get("output"),
            value=_int(raw.get("value") or 0),
            error=raw.get("error"),
        )
        frame.calls = [call_frame(c, tx_hash, block_number) for c in raw.get("calls") or []]
        frame.logs = [
            Log(address=entry["address"].lower(), topics=tuple(t.lower() for t in entry.get("topics") or []),
                data=entry.get("data") or "0x", block_number=block_number, block_hash=None, tx_hash=tx_hash,
                tx_index=0, log_index=_int(entry.get("index") or n))
            for n, entry in enumerate(raw.get("logs") or [])
        ]
        return frame
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRpcAnswer(f"malformed callTracer frame ({type(exc).__name__}: {exc})") from exc
