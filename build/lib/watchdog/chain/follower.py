"""The block follower: checkpointed, reorg-safe, exactly-once following of one network.

Each step moves the checkpoint forward over a range of blocks: eth_getLogs for the watched contracts
and for the watched topics of any emitter (the range halves when a provider refuses it and grows back
after successes), full blocks for the transactions behind those logs or calling watched contracts, one
`on_block` per block, then ONE store transaction with the findings, the recent block hashes and the
checkpoint. A SIGKILL at any moment therefore replays at most one uncommitted range, and findings are
deduplicated by key, so nothing is missed and nothing is stored twice.

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
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from sqlmodel import Session

from watchdog.chain import ledger, parse
from watchdog.chain.abi import AbiRegistry
from watchdog.chain.events import Block, BlockBundle, Log, Tx
from watchdog.chain.handler import BlockHandler, Sink, call_handler
from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.finding import Finding
from watchdog.errors import RpcError
from watchdog.metrics import Metrics
from watchdog.store import Store
from watchdog.store.models import FindingRecord

log = logging.getLogger("watchdog.follower")

BATCH = 100                # JSON-RPC calls per HTTP request when fetching many blocks
LOGS_PER_REQUEST = 5000    # the log range adapts to return about this many logs per eth_getLogs
CEILING_TTL = 100          # ranges fetched below a refused span before trying wider ones again
DEEP_REORG = 1024          # how far below the window findings are checked after a reorg deeper than it


@dataclass
class FollowerOptions:
    confirmations: int = 0          # 0: the fast path, detection on the head itself
    reorg_window: int = 64          # how many recent block hashes are kept to find a fork point
    max_range: int = 2000           # most blocks asked of one eth_getLogs
    start_block: int | None = None  # first block when there is no checkpoint (None: the current head)
    poll_interval: float = 1.0      # seconds between polls when no WebSocket head arrives


class ChainMoved(RpcError):
    """The chain changed while a range was being read (a reorg in progress): read it again."""


class Follower:
    def __init__(
        self,
        network: str,
        rpc: RpcClient,
        store: Store,
        handler: BlockHandler,
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
        self.registry = registry
        self.options = options or FollowerOptions()
        self.sinks = sinks if sinks is not None else []
        self.metrics = metrics or Metrics()
        self.handler_lock = handler_lock or threading.Lock()
        self.wake = threading.Event()   # set by a WebSocket newHeads notification (or stop)
        self.head = 0
        self.last_ok = time.monotonic()   # last time the node answered a step (health)
        self._span = min(self.options.max_range, 10)  # grows quickly where logs are sparse
        self._ceiling, self._ceiling_ttl = 0, 0        # a span the provider refused (0: none known)
        self._address_list = sorted(self.addresses)
        self._pool: ThreadPoolExecutor | None = None
        self._prefetch: tuple[tuple[int, int], Future[tuple[list[Any], dict[tuple[int, bool], Any]]]] | None = None
        self._topics = sorted(t.lower() for t in handler.watched_topics())
        self._checkpoint = self._load_checkpoint()

    # --- driving ---
    def run(self, stop: threading.Event) -> None:
        """Follow until `stop` is set. Never raises: RPC trouble is retried with backoff."""
        failures = 0
        while not stop.is_set():
            try:
                progressed = self.step()
                failures = 0
            except Exception as exc:  # the follower must survive anything the node or a rule throws
                failures += 1
                kind = "rpc" if isinstance(exc, RpcError) else "internal"
                self.metrics.errors.labels(self.network, kind).inc()
                fields = {"network": self.network, "checkpoint": self.checkpoint, "retry": failures}
                if kind == "rpc":
                    log.warning("%s: %s (retry %d)", self.network, exc, failures, extra=fields)
                else:
                    log.exception("%s: unexpected error (retry %d)", self.network, failures, extra=fields)
                self.wake.wait(random.uniform(0.5, 1.0) * min(5.0, 0.2 * 2 ** failures))
                self.wake.clear()
                continue
            if not progressed:
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
                    limit = int(self.rpc.call("eth_blockNumber"), 16) - self.options.confirmations
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
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._prefetch = None, None

    @property
    def checkpoint(self) -> int | None:
        return self._checkpoint.number if self._checkpoint else None

    # --- one step ---
    def step(self, limit: int | None = None) -> bool:
        """Handle a reorg or process the next range (up to `limit`). False when there is nothing to do yet."""
        cp = self._checkpoint
        calls: list[tuple[str, list[Any]]] = [("eth_blockNumber", [])]
        if cp is not None:
            calls.append(("eth_getBlockByNumber", [hex(cp.number), False]))
        answers = self.rpc.batch(calls)
        try:
            self.head = int(answers[0], 16)
        except (TypeError, ValueError) as exc:
            raise parse.BadRpcAnswer(f"eth_blockNumber answered {answers[0]!r}") from exc
        self.last_ok = time.monotonic()  # the node answers (health)
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
            return False
        self._process(first, target)
        return True

    # --- processing a range ---
    def _process(self, first: int, target: int) -> None:
        with _gc_paused():
            self._process_range(first, target)

    def _process_range(self, first: int, target: int) -> None:
        started = time.perf_counter()
        last, logs, prefetched = self._fetch_logs(first, target)
        by_block: dict[int, list[Log]] = defaultdict(list)
        for item in logs:
            by_block[item.block_number].append(item)  # type: ignore[index]
        window_from = self.head - self.options.reorg_window + 1
        full, bare = self._blocks_needed(first, last, set(by_block), window_from)
        blocks, txs = self._fetch_blocks(full, bare, prefetched)
        cp = self._checkpoint
        if cp is not None and cp.number == first - 1 and blocks[first].parent_hash != cp.hash:
            self._reorg()  # the block at the checkpoint was replaced since this step began
            return
        self._check_links(first, last, blocks, by_block)

        recent = [blocks[n] for n in range(max(first, window_from), last + 1)]
        with self.store.session() as session:
            findings: list[Finding] = []
            for number in full:
                block = blocks[number]
                block_logs = by_block.get(number, [])
                reader = BlockReader(self.rpc, self.network, number)
                wanted = {item.tx_hash for item in block_logs}
                picked: dict[str, Tx] = {}
                for raw in txs.get(number, []):
                    # Only the transactions behind the logs, calling a watched contract, or creating a
                    # contract (new deployments are scanned: attackers deploy before they strike) are parsed.
                    if _lower(raw, "hash") in wanted or raw.get("to") is None or _lower(raw, "to") in self.addresses:
                        tx = parse.tx(raw)
                        picked[tx.hash] = tx
                        reader.remember_tx(tx)
                if not block_logs and not picked and number < window_from:
                    continue
                findings += self._run_handler(BlockBundle(self.network, block, block_logs, picked, reader), session)
            new = ledger.store_findings(session, findings)
            ledger.advance(session, self.network, blocks[last], recent, keep_from=last - self.options.reorg_window + 1)
        self._checkpoint = blocks[last]
        self.metrics.blocks.labels(self.network).inc(last - first + 1)
        self.metrics.logs.labels(self.network).inc(len(logs))
        self.metrics.checkpoint.labels(self.network).set(last)
        if last >= self.head - 1:
            self.metrics.commit_latency.labels(self.network).observe(time.perf_counter() - started)
        for record in new:
            self.metrics.findings.labels(self.network, record.severity).inc()
        self.notify(new, [])

    def _fetch_logs(self, first: int, target: int) -> tuple[int, list[Log], dict[tuple[int, bool], Any]]:
        """Logs of [first, last] with the largest `last` <= target the provider accepts (adaptive range),
        and the raw blocks already fetched for that range (by number and full-transactions flag).

        While this range is processed, the logs and blocks of the next one are already requested on a
        worker thread: the node prepares its answers while this thread decodes, runs the rules and commits.
        """
        answers: list[Any] | None = None
        prefetched: dict[tuple[int, bool], Any] = {}
        if self._prefetch is not None:
            (p_first, p_last), future = self._prefetch
            self._prefetch = None
            if p_first == first and p_last <= target:
                try:
                    answers, prefetched = future.result()
                    last = p_last
                except Exception:  # refused or failed: asked again below, with range splitting
                    answers, prefetched = None, {}
        while answers is None:
            last = min(target, first + self._span - 1)
            try:
                answers = self._request_logs(first, last)
            except RpcAnswerError as exc:
                if last == first:
                    raise
                # Remember what was refused: growing back stops below it for a while.
                self._ceiling, self._ceiling_ttl = last - first, CEILING_TTL
                self._span = max(1, (last - first + 1) // 2)
                log.info("%s: provider refused eth_getLogs over %d blocks (%s); trying %d", self.network,
                         last - first + 1, exc.message, self._span)
        # Aim at about LOGS_PER_REQUEST logs per request: bounded memory, and a pipeline that keeps moving.
        count, blocks = sum(len(a) for a in answers if isinstance(a, list)), last - first + 1
        if count > 2 * LOGS_PER_REQUEST:
            self._span = max(1, blocks * LOGS_PER_REQUEST // count)
        elif count < LOGS_PER_REQUEST // 2 and blocks >= self._span:
            self._span = min(self.options.max_range, self._ceiling or self.options.max_range, self._span * 2)
        if self._ceiling:
            self._ceiling_ttl -= 1
            if self._ceiling_ttl <= 0:
                self._ceiling = 0  # the provider may have been busy, not strict: try wider ranges again
        if last < target:
            self._prefetch_range(last + 1, min(target, last + self._span))
        return last, self._parse_logs(answers, first, last), prefetched

    def _request_logs(self, first: int, last: int) -> list[Any]:
        calls = []
        if self.addresses:
            calls.append(("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(last), "address": self._address_list}]))
        if self._topics:
            calls.append(("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(last), "topics": [self._topics]}]))
        return self.rpc.batch(calls)

    def _prefetch_range(self, first: int, last: int) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.network}-prefetch")
        window_from = self.head - self.options.reorg_window + 1
        self._prefetch = ((first, last), self._pool.submit(self._request_range, first, last, window_from))

    def _request_range(self, first: int, last: int, window_from: int) -> tuple[list[Any], dict[tuple[int, bool], Any]]:
        """Worker thread: raw logs of a range, then the raw blocks they need (parsed and checked later)."""
        answers = self._request_logs(first, last)
        try:
            with_logs = {int(raw["blockNumber"], 16) for answer in answers for raw in answer}
        except (TypeError, ValueError, KeyError):
            return answers, {}  # a malformed answer: the main thread reports it
        full, bare = self._blocks_needed(first, last, with_logs, window_from)
        return answers, self._request_blocks(full, bare)

    @staticmethod
    def _blocks_needed(first: int, last: int, with_logs: set[int], window_from: int) -> tuple[list[int], list[int]]:
        """Blocks read with their transactions (those with logs, and all recent ones: a reorg can hit them
        and a call to a watched contract may emit nothing), and the range ends read as bare headers."""
        full = sorted(n for n in with_logs | set(range(max(first, window_from), last + 1)) if first <= n <= last)
        return full, sorted({first, last} - set(full))

    def _request_blocks(self, full: list[int], bare: list[int]) -> dict[tuple[int, bool], Any]:
        keys = [(n, True) for n in full] + [(n, False) for n in bare]
        answers: list[Any] = []
        for i in range(0, len(keys), BATCH):
            answers += self.rpc.batch([("eth_getBlockByNumber", [hex(n), flag]) for n, flag in keys[i:i + BATCH]])
        return dict(zip(keys, answers))

    def _parse_logs(self, answers: list[Any], first: int, last: int) -> list[Log]:
        decoders: dict[tuple[str, str | None], tuple[list[Any], str | None]] = {}
        names, candidates = self.registry.names, self.registry.candidates

        def decode(address: str, topics: tuple[str, ...], data: str) -> tuple[str | None, dict[str, Any] | None, str | None]:
            key = (address, topics[0] if topics else None)
            known = decoders.get(key)
            if known is None:
                known = decoders[key] = (candidates(*key), names.get(address))
            for decoder in known[0]:
                args = decoder.decode(topics, data)
                if args is not None:
                    return decoder.name, args, known[1]
            return None, None, known[1]

        logs: list[Log] = []
        for answer in answers:
            if not isinstance(answer, list):
                raise parse.BadRpcAnswer(f"eth_getLogs answered {type(answer).__name__}, not a list")
            logs += parse.log_entries(answer, decode)
        if any(item.block_number is None or not first <= item.block_number <= last for item in logs):
            raise parse.BadRpcAnswer(f"eth_getLogs returned a log outside blocks {first}..{last}")
        if len(answers) > 1:
            # The two queries may both return a watched contract's watched topic: keep one of each.
            unique = {(item.block_hash, item.log_index): item for item in logs}
            logs = sorted(unique.values(), key=lambda item: (item.block_number, item.log_index))
        return logs

    def _fetch_blocks(self, full: list[int], bare: list[int], prefetched: dict[tuple[int, bool], Any]
                      ) -> tuple[dict[int, Block], dict[int, list[dict[str, Any]]]]:
        keys = [(n, True) for n in full] + [(n, False) for n in bare]
        missing = [key for key in keys if prefetched.get(key) is None]
        raws = {**prefetched, **self._request_blocks([n for n, f in missing if f], [n for n, f in missing if not f])}
        blocks: dict[int, Block] = {}
        txs: dict[int, list[dict[str, Any]]] = {}
        for number, with_txs in keys:
            raw = raws[(number, with_txs)]
            if raw is None:
                raise ChainMoved(f"block {number} vanished while reading (reorg in progress)")
            blocks[number] = parse.block(raw)
            if with_txs:
                txs[number] = [t for t in raw.get("transactions") or [] if isinstance(t, dict)]
        return blocks, txs

    def _check_links(self, first: int, last: int, blocks: dict[int, Block], by_block: dict[int, list[Log]]) -> None:
        """Logs must belong to the blocks read, and consecutive blocks read must link by parent hash."""
        for number, items in by_block.items():
            if any(item.block_hash != blocks[number].hash for item in items):
                raise ChainMoved(f"logs of block {number} belong to another branch (reorg in progress)")
        for number in range(first + 1, last + 1):
            if number in blocks and number - 1 in blocks and blocks[number].parent_hash != blocks[number - 1].hash:
                raise ChainMoved(f"block {number} does not link to block {number - 1} (reorg in progress)")

    def _run_handler(self, bundle: BlockBundle, session: Session) -> list[Finding]:
        try:
            with self.handler_lock:
                return call_handler(self.handler.on_block, session, bundle)
        except RpcError:
            raise  # the node failed under the rule: retry the whole range, nothing is committed
        except Exception:
            # A rule that crashes on one block must not stop detection for all the others.
            self.metrics.errors.labels(self.network, "rule").inc()
            log.exception("%s: detection failed on block %d; continuing", self.network, bundle.block.number,
                          extra={"network": self.network, "block": bundle.block.number})
            return []

    # --- reorgs ---
    def _reorg(self) -> None:
        cp = self._checkpoint
        assert cp is not None
        with self.store.session() as session:
            known = [(r.number, r.hash) for r in ledger.recent_blocks(session, self.network)]
        numbers = [n for n, _ in known] or [cp.number]
        canonical = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        fork: Block | None = None
        for (number, stored), raw in zip(known, canonical):
            if raw is not None and (candidate := parse.block(raw)).hash == stored:
                fork = candidate
                break
        if fork is None:  # deeper than the window: the block hashes kept in findings reach further back
            fork = self._deep_fork(max(0, min(min(numbers) - 1, self.head)))
        with self.store.session() as session:
            retracted = ledger.roll_back(session, self.network, fork.number, fork.hash)
        depth = cp.number - fork.number
        self._checkpoint = fork
        self.metrics.reorgs.labels(self.network).inc()
        self.metrics.reorg_depth.labels(self.network).set(depth)
        self.metrics.retractions.labels(self.network).inc(len(retracted))
        self.metrics.checkpoint.labels(self.network).set(fork.number)
        log.warning("%s: reorg of depth %d at block %d; %d findings retracted", self.network, depth, fork.number, len(retracted),
                    extra={"network": self.network, "reorg_depth": depth, "fork_block": fork.number, "retracted": len(retracted)})
        self.notify([], retracted)

    def _deep_fork(self, below: int) -> Block:
        """Fork point of a reorg deeper than the window: below the oldest active finding (within
        DEEP_REORG blocks) whose block is no longer canonical, else just below the window."""
        with self.store.session() as session:
            stored = ledger.finding_blocks(session, self.network, below - DEEP_REORG, below)
        numbers = sorted(stored)
        canonical = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers]) if numbers else []
        orphaned = [n for n, raw in zip(numbers, canonical) if raw is None or parse.block(raw).hash not in stored[n]]
        fork_number = min(orphaned) - 1 if orphaned else below
        raw = self.rpc.call("eth_getBlockByNumber", [hex(max(0, fork_number)), False])
        if raw is None:
            raise ChainMoved(f"block {fork_number} is not available yet")
        return parse.block(raw)

    # --- store and sinks ---
    def _load_checkpoint(self) -> Block | None:
        with self.store.session() as session:
            cp = ledger.checkpoint(session, self.network)
            return Block(cp.block_number, cp.block_hash, "", 0) if cp else None

    def notify(self, new: list[FindingRecord], retracted: list[FindingRecord]) -> None:
        if not new and not retracted:
            return
        for sink in list(self.sinks):
            try:
                sink(new, retracted)
            except Exception:
                self.metrics.errors.labels(self.network, "sink").inc()
                log.exception("%s: a finding sink failed; the findings are stored", self.network)


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
