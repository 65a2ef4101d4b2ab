"""The block follower: checkpointed, reorg-safe, exactly-once following of one network.

Each step moves the checkpoint forward over a range of blocks read by the log source (logs of the watched
contracts and watched topics, the blocks behind them, every recent block in full): one `on_block` per block,
then ONE unit of work commits the findings, the recent block hashes and the checkpoint. A SIGKILL at any
moment therefore replays at most one uncommitted range, and findings are deduplicated by key, so nothing is
missed and nothing is stored twice.

Latency is measured per block, from the moment it was mined to its findings committed: a block is dated by
the moment its head was first seen (a WebSocket notification, or the poll that found it), and a block first
seen only behind a later head by that head's moment less their difference of timestamps (so the node's and
this machine's clocks never need to agree).

Reorgs: the hashes of the last `reorg_window` blocks are kept. When the block at the checkpoint changed,
or a new block does not link to it, the follower finds the fork point, retracts the findings of the
orphaned blocks (status "retracted" plus a notification to the sinks), and follows the new branch.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Literal

from sqlmodel import Session

from watchdog.chain import parse
from watchdog.chain.abi import AbiRegistry
from watchdog.chain.events import Block, BlockBundle, Tx
from watchdog.chain.logsource import ChainMoved, LogSource, RangeRead
from watchdog.chain.reader import BlockReader, ReaderMemory
from watchdog.chain.rpc import LAG_TOLERANCE, RpcClient
from watchdog.errors import RpcError
from watchdog.finding import Finding
from watchdog.metrics import Metrics
from watchdog.pipeline.handler import Handler, Sink, followed, stamped
from watchdog.pipeline.unit import UnitOfWork
from watchdog.store import Store, ledger

log = logging.getLogger("watchdog.follower")

DEEP_REORG = 1024  # how far below the window findings are checked after a reorg deeper than it
CATCH_UP = 5       # blocks behind the head from which the follower says it is catching up on history


@dataclass
class FollowerOptions:
    confirmations: int = 0          # 0: the fast path, detection on the head itself
    reorg_window: int = 64          # how many recent block hashes are kept to find a fork point
    max_range: int = 2000           # most blocks asked of one eth_getLogs
    start_block: int | None = None  # first block when there is no checkpoint (None: the current head)
    poll_interval: float = 1.0      # seconds between polls when no WebSocket head arrives
    # complete: every block is read with its transactions and judged, however old (calls that emit nothing,
    # native-coin moves, silent upgrades are seen in a catch-up too); logs: older than the reorg window, only
    # blocks with watched logs (cheaper on busy chains, blind to log-less activity in history)
    backfill: Literal["complete", "logs"] = "complete"


class Follower:
    def __init__(
        self,
        network: str,
        rpc: RpcClient,
        store: Store,
        handler: Handler,
        addresses: set[str],
        registry: AbiRegistry,
        options: FollowerOptions | None = None,
        *,
        sinks: list[Sink] | None = None,
        metrics: Metrics | None = None,
        handler_lock: threading.Lock | None = None,
    ) -> None:
        self.network = network
        self.rpc = rpc
        self.store = store
        self.handler = handler
        self.addresses = {a.lower() for a in addresses}
        self.options = options or FollowerOptions()
        self.unit = UnitOfWork(network, store, sinks=sinks, metrics=metrics, lock=handler_lock)
        self.metrics = self.unit.metrics
        self.memory = ReaderMemory()  # the reads rules ask for block after block, and how the node traces
        self.source = LogSource(rpc, self.addresses, handler.watched_topics(), registry,
                                max_range=self.options.max_range, name=network, memory=self.memory)
        self.wake = threading.Event()   # set by a WebSocket newHeads notification (or stop)
        self.head = 0
        self.head_time = 0  # the head block's timestamp: how old a block is, on the chain's clock
        # health: when the checkpoint last moved (or was found at the head), and the steps failed in a row
        self.last_progress = time.monotonic()
        self.failures = 0
        self.last_error = ""
        self.catching_up = False
        self._seen: dict[int, tuple[int, float]] = {}  # head number -> (timestamp, monotonic time first seen)
        self._checkpoint = self._load_checkpoint()

    @property
    def sinks(self) -> list[Sink]:
        return self.unit.sinks

    def on_head(self, header: Any) -> None:
        """A new head announced (a WebSocket `newHeads` notification): date it, and wake the follower."""
        try:
            self._saw(int(header["number"], 16), int(header["timestamp"], 16))
        except (KeyError, TypeError, ValueError):
            pass  # a malformed notification still wakes the follower, which reads the head itself
        self.wake.set()

    def _saw(self, number: int, timestamp: int) -> None:
        self._seen.setdefault(number, (timestamp, time.monotonic()))

    def _mined_at(self, block: Block) -> float:
        """When `block` was mined, on this machine's monotonic clock: its head's first sight, or that of the first
        later head seen, less the chain time between them."""
        later = [(n, when) for n, when in list(self._seen.items()) if n >= block.number]  # a copy: heads arrive meanwhile
        if not later:
            return time.monotonic()
        timestamp, seen = min(later)[1]
        return seen - max(0, timestamp - block.timestamp)

    # --- driving ---
    def run(self, stop: threading.Event) -> None:
        """Follow until `stop` is set. Never raises: RPC trouble is retried with backoff."""
        while not stop.is_set():
            try:
                progressed = self.step()
                self.failures = 0
            except Exception as exc:  # the follower must survive anything the node or a rule throws
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                kind = "rpc" if isinstance(exc, RpcError) else "internal"
                self.metrics.errors.labels(self.network, kind).inc()
                fields = {"network": self.network, "checkpoint": self.checkpoint, "retry": self.failures}
                if kind == "rpc":
                    log.warning("%s: %s (retry %d)", self.network, exc, self.failures, extra=fields)
                else:
                    log.exception("%s: unexpected error (retry %d)", self.network, self.failures, extra=fields)
                self.wake.wait(random.uniform(0.5, 1.0) * min(5.0, 0.2 * 2 ** self.failures))
                self.wake.clear()
                continue
            if not progressed or self.behind() == 0:  # at the head: the next step waits for a new one
                self.wake.wait(self.options.poll_interval)
                self.wake.clear()

    def run_until(self, block: int | None = None, max_failures: int = 8) -> None:
        """Process up to `block` (default: the current safe head), reorgs included, and return.

        For replays, `watchdog run --once` and tests. RPC trouble is retried with backoff; it is raised
        after `max_failures` failed steps in a row.
        """
        failures = 0
        limit = block
        while True:
            try:
                if limit is None:
                    self.rpc.refresh_heads()
                    head = int(self.rpc.call("eth_blockNumber", at_least=self.rpc.best_head - LAG_TOLERANCE or None), 16)
                    limit = head - self.options.confirmations
                if not self.step(limit):
                    return
                failures = 0
            except RpcError as exc:
                failures += 1
                if failures >= max_failures:
                    raise
                log.warning("%s: %s (retry %d)", self.network, exc, failures)
                time.sleep(random.uniform(0.5, 1.0) * min(2.0, 0.05 * 2 ** failures))

    def close(self) -> None:
        """Stop the prefetch worker (the RPC client and store belong to the caller)."""
        self.source.close()

    @property
    def checkpoint(self) -> int | None:
        return self._checkpoint.number if self._checkpoint else None

    # --- one step ---
    def step(self, limit: int | None = None) -> bool:
        """Handle a reorg or process the next range (up to `limit`). False when there is nothing to do yet."""
        cp = self._checkpoint
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", ["latest", False])]
        if cp is not None:
            calls.append(("eth_getBlockByNumber", [hex(cp.number), False]))
        # An endpoint behind the checkpoint would answer "no such block": that is a lagging node, not a reorg.
        self.rpc.refresh_heads()
        answers = self.rpc.batch(calls, at_least=max(self.rpc.best_head - LAG_TOLERANCE, cp.number if cp else 0) or None)
        head = parse.block(answers[0])
        self._saw(head.number, head.timestamp)
        self.head, self.head_time = head.number, head.timestamp
        self.metrics.head.labels(self.network).set(self.head)
        if cp is not None:
            current = parse.block(answers[1]) if answers[1] is not None else None
            if current is None or current.hash != cp.hash:
                self._reorg()
                return True
        target = self.head - self.options.confirmations
        if limit is not None:
            target = min(target, limit)
        if cp is None:  # first run: the configured start block, else the head itself
            first = self.options.start_block if self.options.start_block is not None else max(0, target)
        else:
            first = cp.number + 1
        if first > target:
            self.last_progress = time.monotonic()  # nothing to do is not being stuck
            self._note_lag(target)
            return False
        with _gc_paused():
            self._process(first, target)
        self.last_progress = time.monotonic()
        self._note_lag(target)
        return True

    def behind(self) -> int:
        """Blocks between the checkpoint and the safe head."""
        return max(0, self.head - self.options.confirmations - (self.checkpoint or 0)) if self.checkpoint is not None else 0

    def _note_lag(self, target: int) -> None:
        """Catching up on history is said in the logs (start and end) and in the lag gauge."""
        behind = self.behind()
        self.metrics.lag.labels(self.network).set(behind)
        if behind > CATCH_UP and not self.catching_up:
            self.catching_up = True
            log.info("%s: catching up, %d blocks behind the head (block %d): findings of old blocks are reported as "
                     "history, never acted on", self.network, behind, self.head,
                     extra={"network": self.network, "behind": behind, "head": self.head})
        elif behind <= CATCH_UP and self.catching_up:
            self.catching_up = False
            log.info("%s: caught up with the head (block %d)", self.network, self.head,
                     extra={"network": self.network, "head": self.head})

    # --- processing a range ---
    def _process(self, first: int, target: int) -> None:
        window_from = self.head - self.options.reorg_window + 1
        full_from = first if self.options.backfill == "complete" else window_from
        # live blocks come with their traces when the node keeps them (one call, beside the logs)
        read = self.source.read(first, target, full_from, traced_from=max(window_from, first))
        cp = self._checkpoint
        if cp is not None and cp.number == first - 1 and read.blocks[first].parent_hash != cp.hash:
            self._reorg()  # the block at the checkpoint was replaced since this step began
            return
        last = read.blocks[read.last]
        recent = [read.blocks[n] for n in range(max(first, window_from), read.last + 1)]

        def progress(session: Session) -> None:
            ledger.advance(session, self.network, last, recent, keep_from=read.last - self.options.reorg_window + 1)

        self.unit.commit(lambda session: self._detect(read, full_from, session), progress, head=(self.head, self.head_time))
        self._checkpoint = last
        self.metrics.blocks.labels(self.network).inc(read.last - first + 1)
        self.metrics.logs.labels(self.network).inc(len(read.logs))
        self.metrics.checkpoint.labels(self.network).set(read.last)
        committed = time.monotonic()
        for block in read.blocks.values():
            self.metrics.commit_latency.labels(self.network).observe(max(0.0, committed - self._mined_at(block)))
        for number in [n for n in list(self._seen) if n <= read.last]:
            self._seen.pop(number, None)

    def _detect(self, read: RangeRead, full_from: int, session: Session) -> list[Finding]:
        by_block = read.logs_by_block()
        findings: list[Finding] = []
        for number in read.full:
            block_logs = by_block.get(number, [])
            reader = BlockReader(self.rpc, self.network, number, memory=self.memory)
            wanted = {item.tx_hash for item in block_logs}
            if number in read.tracing:
                # the receipts of the transactions behind the logs, and the reads rules ask for block after block,
                # while the block's traces are still on their way
                reader.prefetch_receipts(sorted(wanted))
            raw_txs = self.source.settle(read, number)
            reader.seed_traces(read.traces.get(number, {}))
            picked: dict[str, Tx] = {}
            cluster = followed(self.handler)
            for raw in raw_txs:
                # Only the transactions behind the logs, calling a watched contract, creating a contract (new
                # deployments are scanned: attackers deploy before they strike), or from or to an account the
                # handler follows (an attacker's next moves) are parsed.
                if (_lower(raw, "hash") in wanted or raw.get("to") is None or _lower(raw, "to") in self.addresses
                        or (cluster and (_lower(raw, "from") in cluster or _lower(raw, "to") in cluster))):
                    tx = parse.tx(raw)
                    picked[tx.hash] = tx
                    reader.remember_tx(tx)
            if not block_logs and not picked and number < full_from:
                continue
            bundle = BlockBundle(self.network, read.blocks[number], block_logs, picked, reader)
            findings += stamped(self.unit.detect(self.handler.on_block, session, bundle, where=f"block {number}"), bundle.block)
        return findings

    # --- reorgs ---
    def _reorg(self) -> None:
        cp = self._checkpoint
        assert cp is not None
        with self.store.session() as session:
            known = [(r.number, r.hash) for r in ledger.recent_blocks(session, self.network)]
        numbers = [n for n, _ in known] or [cp.number]
        # the canonical chain as an endpoint that has caught up with the head sees it, before anything is retracted
        canonical = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers], at_least=self.head)
        fork: Block | None = None
        for (number, stored), raw in zip(known, canonical):
            if raw is not None and (candidate := parse.block(raw)).hash == stored:
                fork = candidate
                break
        if fork is None:  # deeper than the window: the block hashes kept in findings reach further back
            fork = self._deep_fork(max(0, min(min(numbers) - 1, self.head)))
        retracted = self.unit.retract(fork.number, fork.hash)
        depth = cp.number - fork.number
        self._checkpoint = fork
        self.metrics.reorgs.labels(self.network).inc()
        self.metrics.reorg_depth.labels(self.network).set(depth)
        self.metrics.checkpoint.labels(self.network).set(fork.number)
        log.warning("%s: reorg of depth %d at block %d; %d findings retracted", self.network, depth, fork.number, len(retracted),
                    extra={"network": self.network, "reorg_depth": depth, "fork_block": fork.number, "retracted": len(retracted)})

    def _deep_fork(self, below: int) -> Block:
        """Fork point of a reorg deeper than the window: below the oldest active finding (within
        DEEP_REORG blocks) whose block is no longer canonical, else just below the window."""
        with self.store.session() as session:
            stored = ledger.finding_blocks(session, self.network, below - DEEP_REORG, below)
        numbers = sorted(stored)
        canonical = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers], at_least=self.head) if numbers else []
        orphaned = [n for n, raw in zip(numbers, canonical) if raw is None or parse.block(raw).hash not in stored[n]]
        fork_number = min(orphaned) - 1 if orphaned else below
        raw = self.rpc.call("eth_getBlockByNumber", [hex(max(0, fork_number)), False], at_least=self.head)
        if raw is None:
            raise ChainMoved(f"block {fork_number} is not available yet")
        return parse.block(raw)

    def _load_checkpoint(self) -> Block | None:
        with self.store.session() as session:
            cp = ledger.checkpoint(session, self.network)
            return Block(cp.block_number, cp.block_hash, "", 0) if cp else None


def _lower(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value.lower() if isinstance(value, str) else None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a range is ingested: parsing tens of thousands of JSON
    objects otherwise triggers collections that cost more than the parsing (the objects hold no cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
