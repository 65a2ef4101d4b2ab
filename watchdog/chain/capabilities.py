"""What a node can do beyond plain JSON-RPC: tracing, simulation, block receipts, its mempool, subscriptions,
old state. Each is probed with one cheap request; a missing one is said once, with what it costs and what is
used instead, never discovered later as a silent None."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import websockets

from watchdog.chain.http import on_this_machine
from watchdog.chain.parse import quantity
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.errors import RpcError

ZERO = "0x" + "00" * 20
CALL_TRACER = {"tracer": "callTracer", "tracerConfig": {"withLog": True}}
OLD_BLOCKS = 10_000  # a full node keeps the state of the last ~128 blocks; an archive node of every block


@dataclass(frozen=True)
class Capability:
    name: str
    what: str       # the methods behind it
    fallback: str   # what the watchdog does without it


CAPABILITIES = {c.name: c for c in (
    Capability("trace", "debug_traceTransaction / debug_traceCall with the callTracer",
               "internal calls, callbacks and value moves inside transactions are not seen"),
    Capability("prestate", "the prestateTracer", "state diffs of a transaction are read block against block"),
    Capability("simulation", "debug_traceCall on pending transactions", "the mempool follower cannot judge pending transactions"),
    Capability("block_receipts", "eth_getBlockReceipts", "receipts are fetched one by one (one request per transaction)"),
    Capability("parity_trace", "trace_block / trace_transaction", "traces come from debug_traceTransaction only"),
    Capability("txpool", "txpool_status", "pending transactions come from a pending-transaction filter"),
    Capability("subscriptions", "eth_subscribe over WebSocket", "new heads are polled over HTTP"),
    Capability("archive", "state of old blocks (eth_getBalance 10,000 blocks back)",
               "a catch-up or replay over old blocks cannot read state: checks comparing with the block before stay quiet"),
)}


@dataclass(frozen=True)
class Probe:
    capability: Capability
    ok: bool
    detail: str  # the node's answer when missing


def probe(rpc: RpcClient, ws_url: str | None = None) -> dict[str, Probe]:
    """Every capability, probed on `rpc` (and `ws_url` for subscriptions)."""
    call = {"from": ZERO, "to": ZERO, "data": "0x"}
    old = max(0, quantity(rpc.call("eth_blockNumber"), "eth_blockNumber") - OLD_BLOCKS)
    requests = {
        "trace": ("debug_traceCall", [call, "latest", CALL_TRACER]),
        "prestate": ("debug_traceCall", [call, "latest", {"tracer": "prestateTracer"}]),
        "simulation": ("debug_traceCall", [call, "latest", {"tracer": "callTracer"}]),
        "block_receipts": ("eth_getBlockReceipts", ["latest"]),
        "parity_trace": ("trace_block", ["latest"]),
        "txpool": ("txpool_status", []),
        "archive": ("eth_getBalance", [ZERO, hex(old)]),
    }
    found: dict[str, Probe] = {}
    answers = rpc.batch(list(requests.values()), errors_as_values=True)
    for name, answer in zip(requests, answers):
        missing = isinstance(answer, RpcAnswerError) or answer is None
        found[name] = Probe(CAPABILITIES[name], not missing, str(answer.message) if isinstance(answer, RpcAnswerError) else "")
    if ws_url:
        ok, detail = _subscribes(ws_url)
        found["subscriptions"] = Probe(CAPABILITIES["subscriptions"], ok, detail)
    else:
        found["subscriptions"] = Probe(CAPABILITIES["subscriptions"], False, "no WebSocket URL configured")
    return found


def _subscribes(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    async def attempt() -> tuple[bool, str]:
        async with websockets.connect(url, open_timeout=timeout, close_timeout=1,
                                      proxy=None if on_this_machine(url) else True) as conn:
            await conn.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}))
            answer = json.loads(await asyncio.wait_for(conn.recv(), timeout=timeout))
            return ("result" in answer, str(answer.get("error", "")))

    try:
        return asyncio.run(attempt())
    except (OSError, websockets.WebSocketException, asyncio.TimeoutError, ValueError) as exc:
        return False, f"{type(exc).__name__}: {exc}"


def probe_or_explain(rpc: RpcClient, ws_url: str | None = None) -> dict[str, Probe] | str:
    """The probes, or why the node could not be asked at all."""
    try:
        return probe(rpc, ws_url)
    except RpcError as exc:
        return str(exc)
