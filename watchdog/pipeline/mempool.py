"""The mempool follower: pending transactions that reach watched contracts, simulated before inclusion.

Hashes arrive from a WebSocket `newPendingTransactions` subscription or, as a fallback, from a pending
transaction filter polled over HTTP. Every pending call into a contract is simulated against the latest
state with `debug_traceCall` (callTracer with logs); it is handed to the rules when any frame of the
simulation touches a watched contract, directly or through other contracts.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from typing import Any, Iterable

from watchdog.chain import parse
from watchdog.chain.abi import AbiRegistry
from watchdog.chain.events import Log, PendingTx, Tx
from watchdog.chain.reader import TRACER, BlockReader, warn_once
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.errors import RpcError
from watchdog.metrics import Metrics
from watchdog.pipeline.handler import Handler, Sink
from watchdog.pipeline.unit import UnitOfWork
from watchdog.store import Store
from watchdog.store.models import FindingRecord

log = logging.getLogger("watchdog.mempool")

SEEN_LIMIT = 50_000      # pending hashes remembered so one transaction is simulated once
SIMULATION_BATCH = 50    # debug_traceCall requests per HTTP request


class MempoolFollower:
    def __init__(
        self,
        network: str,
        rpc: RpcClient,
        store: Store,
        handler: Handler,
        addresses: set[str],
        registry: AbiRegistry,
        *,
        sinks: list[Sink] | None = None,
        metrics: Metrics | None = None,
        handler_lock: threading.Lock | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        self.network = network
        self.rpc = rpc
        self.store = store
        self.handler = handler
        self.addresses = {a.lower() for a in addresses}
        self.registry = registry
        self.unit = UnitOfWork(network, store, sinks=sinks, metrics=metrics, lock=handler_lock)
        self.metrics = self.unit.metrics
        self.poll_interval = poll_interval
        self.subscribed = threading.Event()  # set while a WebSocket feeds hashes: polling pauses
        self._queue: queue.Queue[str] = queue.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._filter: str | None = None

    @property
    def sinks(self) -> list[Sink]:
        return self.unit.sinks

    def enqueue(self, tx_hash: str) -> None:
        """WebSocket callback for newPendingTransactions."""
        if isinstance(tx_hash, str):
            self._queue.put(tx_hash.lower())

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                hashes = self._drain() if self.subscribed.is_set() else self.poll()
                if hashes:
                    self.process(hashes)
                    continue
            except Exception as exc:  # never die on a bad answer: the next poll starts over
                self.metrics.errors.labels(self.network, "mempool").inc()
                log.warning("%s mempool: %s", self.network, exc)
                self._filter = None
            stop.wait(self.poll_interval)

    def poll(self) -> list[str]:
        """New pending hashes from the node's pending-transaction filter (recreated when it expires)."""
        hashes = self._drain()
        if self._filter is None:
            self._filter = self.rpc.call("eth_newPendingTransactionFilter")
            return hashes
        try:
            changes = self.rpc.call("eth_getFilterChanges", [self._filter])
        except RpcAnswerError:  # filter expired or node restarted
            self._filter = None
            return hashes
        return hashes + [h.lower() for h in changes or [] if isinstance(h, str)]

    def _drain(self) -> list[str]:
        hashes = []
        while True:
            try:
                hashes.append(self._queue.get_nowait())
            except queue.Empty:
                return hashes

    def process(self, hashes: list[str]) -> list[FindingRecord]:
        """Simulate the new pending transactions among `hashes` and run the rules on those that touch us.

        A hash whose handling fails on the node is queued again, so an RPC hiccup loses nothing.
        """
        fresh = [h for h in dict.fromkeys(hashes) if h not in self._seen]
        if not fresh:
            return []
        try:
            candidates = self._candidates(fresh)
            simulated = self._simulate(candidates)
        except RpcError:
            self._retry(fresh)
            raise
        self._remember(h for h in fresh if h not in simulated)
        findings: list[FindingRecord] = []
        for tx_hash, pending in simulated.items():
            self.metrics.pending.labels(self.network).inc()
            reader = BlockReader(self.rpc, self.network)
            try:
                findings += self.unit.commit(lambda session: self.unit.detect(
                    self.handler.on_pending, session, pending, reader, where=f"pending {tx_hash}"))
            except RpcError:
                self._retry([tx_hash])
                raise
            self._remember([tx_hash])
        return findings

    def _remember(self, hashes: Iterable[str]) -> None:
        for tx_hash in hashes:
            self._seen[tx_hash] = None
        while len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)

    def _retry(self, hashes: Iterable[str]) -> None:
        for tx_hash in hashes:
            self._queue.put(tx_hash)

    def _candidates(self, hashes: list[str]) -> list[Tx]:
        """Pending transactions that create a contract (its constructor may call the protocol) or call
        one (a plain payment to somebody else cannot reach a watched contract)."""
        txs = []
        for raw in self.rpc.batch([("eth_getTransactionByHash", [h]) for h in hashes], errors_as_values=True):
            if not isinstance(raw, dict) or raw.get("blockNumber") is not None:
                continue  # unknown, dropped or already mined: the block follower sees it
            tx = parse.tx(raw)
            if tx.to is None or tx.input not in ("0x", "") or tx.to in self.addresses:
                txs.append(tx)
        return txs

    def _simulate(self, txs: list[Tx]) -> dict[str, PendingTx]:
        """Simulate in batches; keep those whose call tree or logs touch a watched contract."""
        calls = []
        for tx in txs:
            call = {"from": tx.sender, "data": tx.input, "value": hex(tx.value)}
            if tx.to is not None:
                call["to"] = tx.to
            if tx.gas:
                call["gas"] = hex(tx.gas)
            calls.append(("debug_traceCall", [call, "latest", TRACER]))
        answers: list[Any] = []
        for i in range(0, len(calls), SIMULATION_BATCH):
            answers += self.rpc.batch(calls[i:i + SIMULATION_BATCH], errors_as_values=True)
        touching: dict[str, PendingTx] = {}
        now_ms = int(time.time() * 1000)
        for tx, raw in zip(txs, answers):
            try:
                if isinstance(raw, RpcAnswerError):
                    raise raw
                trace = parse.call_frame(raw, tx.hash)
            except (RpcAnswerError, parse.BadRpcAnswer) as exc:
                warn_once(self.network, f"simulation:{exc}", f"{self.network} mempool: cannot simulate pending "
                          f"transactions ({exc}); those are judged once mined")
                log.debug("%s mempool: cannot simulate %s: %s", self.network, tx.hash, exc)
                continue
            frames = trace.walk()
            logs: list[Log] = [self.registry.decode(entry) for frame in frames for entry in frame.logs]
            if ({f.to for f in frames if f.to} | {entry.address for entry in logs}) & self.addresses:
                touching[tx.hash] = PendingTx(tx=tx, trace=trace, logs=logs, first_seen_ms=now_ms)
        return touching
