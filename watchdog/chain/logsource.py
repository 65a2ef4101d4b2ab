"""Reading a range of blocks: the logs of the watched contracts (and of watched topics from any emitter) over
adaptive `eth_getLogs` ranges, and the blocks behind them, with the next range requested ahead of time.

The range halves when a provider refuses it and grows back after successes, aiming at about
LOGS_PER_REQUEST logs per request (bounded memory, a pipeline that keeps moving). While the caller processes
one range, a worker thread already asks the node for the logs and blocks of the next one. When every block of a
small range is wanted anyway, the blocks come in the same request as the logs.

Blocks at or above `traced_from` (the live window) are read, on a node that answers `trace_block`, as their
header plus the block's call traces instead of full transaction objects: a call that names every transaction's
sender, target, calldata and value (what selecting the watched transactions needs) and brings the traces rules
ask for. It goes out on a worker thread at the same time as the logs, so its answer arrives while the receipts
and reads of the watched transactions are being asked for.
"""

from __future__ import annotations

import logging
import statistics
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from watchdog.chain import parse, traces
from watchdog.chain.abi import AbiRegistry
from watchdog.chain.events import Block, Log
from watchdog.chain.reader import ReaderMemory
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.errors import RpcError

log = logging.getLogger("watchdog.logsource")

BATCH = 100                # JSON-RPC calls per HTTP request when fetching many blocks
LOGS_PER_REQUEST = 5000    # the log range adapts to return about this many logs per eth_getLogs
CEILING_TTL = 100          # ranges fetched below a refused span before trying wider ones again
UNTRACED = 1 << 62         # `traced_from` when no block is read with its traces
# trace_block at this many milliseconds per transaction (median of the first blocks of 20 transactions or more)
# re-executes blocks to trace them: a full block is then cheaper to select from (kept traces answer ~0.05 ms)
TRACE_MS_PER_TX = 1.0
TRACE_SAMPLES = 5

RawBlocks = dict[tuple[int, Any], Any]  # (number, True: with transactions | False: header | "trace") -> raw answer


class ChainMoved(RpcError):
    """The chain changed while a range was being read (a reorg in progress): read it again."""


@dataclass
class RangeRead:
    """Blocks first..last as read: their logs (decoded where an ABI knows them), the blocks that have logs or
    lie at or above `full_from` with their raw transactions, and the range's ends as bare headers."""

    first: int
    last: int
    logs: list[Log]
    blocks: dict[int, Block]
    txs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # raw transactions of fully read blocks
    traces: dict[int, dict[str, Any]] = field(default_factory=dict)      # raw traces by tx hash, of traced blocks
    tracing: dict[int, Future[Any]] = field(default_factory=dict)        # traces on their way (see LogSource.settle)

    @property
    def full(self) -> list[int]:
        """The blocks read with their transactions (some still on their way)."""
        return sorted({*self.txs, *self.tracing})

    def logs_by_block(self) -> dict[int, list[Log]]:
        grouped: dict[int, list[Log]] = {}
        for item in self.logs:
            grouped.setdefault(item.block_number, []).append(item)  # type: ignore[arg-type]
        return grouped


class LogSource:
    def __init__(self, rpc: RpcClient, addresses: set[str], topics: set[str], registry: AbiRegistry, *,
                 max_range: int = 2000, name: str = "chain", memory: ReaderMemory | None = None) -> None:
        self.rpc = rpc
        self.registry = registry
        self.max_range = max_range
        self.name = name
        self.memory = memory or ReaderMemory()     # whether the node answers trace_block
        self._addresses = sorted(a.lower() for a in addresses)
        self._topics = sorted(t.lower() for t in topics)
        self._span = min(max_range, 10)           # grows quickly where logs are sparse
        self._ceiling, self._ceiling_ttl = 0, 0   # a span the provider refused (0: none known)
        self._pool: ThreadPoolExecutor | None = None
        self._tracer: ThreadPoolExecutor | None = None
        self._trace_costs: list[float] = []       # ms per transaction of the first traced blocks
        self._prefetch: tuple[tuple[int, int], Future[tuple[list[Any], RawBlocks]]] | None = None

    def read(self, first: int, target: int, full_from: int, traced_from: int | None = None) -> RangeRead:
        """Blocks first..last for the largest last <= target the provider accepts. Blocks with logs, and every
        block from `full_from` on (a call to a watched contract may emit nothing), come with transactions; those
        from `traced_from` on with their traces instead, when the node can."""
        traced = traced_from if traced_from is not None else UNTRACED
        last, answers, prefetched = self._logs(first, target, full_from, traced)
        logs = self._parse_logs(answers, first, last)
        full, bare = blocks_needed(first, last, {item.block_number for item in logs}, full_from)  # type: ignore[misc]
        def fetched(n: int) -> bool:
            return prefetched.get((n, True)) is not None or ((n, "trace") in prefetched and prefetched.get((n, False)) is not None)

        raws = {**prefetched, **self._request_blocks([n for n in full if not fetched(n)],
                                                     [n for n in bare if prefetched.get((n, False)) is None], traced)}
        read = RangeRead(first, last, logs, {})
        for number, with_txs in [(n, True) for n in full] + [(n, False) for n in bare]:
            tracing = raws.get((number, "trace")) if with_txs else None
            raw = raws.get((number, False) if tracing is not None else (number, with_txs))
            if raw is None:
                raise ChainMoved(f"block {number} vanished while reading (reorg in progress)")
            read.blocks[number] = parse.block(raw)
            if tracing is not None:
                read.tracing[number] = tracing
            elif with_txs:
                read.txs[number] = [t for t in raw.get("transactions") or [] if isinstance(t, dict)]
        _check_links(read)
        return read

    def settle(self, read: RangeRead, number: int) -> list[dict[str, Any]]:
        """The raw transactions of a block read in full, once its traces have arrived (a node that turns out not
        to trace blocks gets the full block asked instead)."""
        future = read.tracing.pop(number, None)
        if future is not None:
            try:
                grouped = future.result()
            except parse.BadRpcAnswer as exc:  # a node whose block traces cannot be read: full blocks from now on
                log.warning("%s: trace_block of block %d unreadable (%s); reading full blocks", self.name, number, exc)
                self.memory.parity, grouped = False, None
            if grouped is None:
                raw = self._request_blocks([number], [])[(number, True)]
                if raw is None or parse.block(raw).hash != read.blocks[number].hash:
                    raise ChainMoved(f"block {number} changed while reading (reorg in progress)")
                read.txs[number] = [t for t in raw.get("transactions") or [] if isinstance(t, dict)]
            else:
                if any(str(e[0].get("blockHash") or read.blocks[number].hash).lower() != read.blocks[number].hash
                       for e in grouped.values()):
                    raise ChainMoved(f"traces of block {number} belong to another branch (reorg in progress)")
                read.traces[number] = grouped
                read.txs[number] = [traces.top_call(entries, number) for entries in grouped.values()]
        return read.txs.get(number, [])

    def close(self) -> None:
        """Stop the prefetch and tracing workers (the RPC client belongs to the caller)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._prefetch = None, None
        if self._tracer is not None:
            self._tracer.shutdown(wait=True, cancel_futures=True)
            self._tracer = None

    # --- logs, adaptive range ---
    def _logs(self, first: int, target: int, full_from: int, traced: int) -> tuple[int, list[Any], RawBlocks]:
        answers: list[Any] | None = None
        prefetched: RawBlocks = {}
        last = first
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
            # every block of a small range is read in full anyway: ask for them with the logs
            known = list(range(first, last + 1)) if full_from <= first and last - first < BATCH else []
            try:
                answers, prefetched = self._request_logs(first, last, known, traced)
            except RpcAnswerError as exc:
                if last == first:
                    raise
                # Remember what was refused: growing back stops below it for a while.
                self._ceiling, self._ceiling_ttl = last - first, CEILING_TTL
                self._span = max(1, (last - first + 1) // 2)
                log.info("%s: provider refused eth_getLogs over %d blocks (%s); trying %d", self.name,
                         last - first + 1, exc.message, self._span)
        self._adapt(sum(len(a) for a in answers if isinstance(a, list)), last - first + 1)
        if last < target:
            self._prefetch_range(last + 1, min(target, last + self._span), full_from, traced)
        return last, answers, prefetched

    def _adapt(self, count: int, blocks: int) -> None:
        """Aim at about LOGS_PER_REQUEST logs per request."""
        if count > 2 * LOGS_PER_REQUEST:
            self._span = max(1, blocks * LOGS_PER_REQUEST // count)
        elif count < LOGS_PER_REQUEST // 2 and blocks >= self._span:
            self._span = min(self.max_range, self._ceiling or self.max_range, self._span * 2)
        if self._ceiling:
            self._ceiling_ttl -= 1
            if self._ceiling_ttl <= 0:
                self._ceiling = 0  # the provider may have been busy, not strict: try wider ranges again

    def _request_logs(self, first: int, last: int, blocks: list[int] | None = None,
                      traced: int = UNTRACED) -> tuple[list[Any], RawBlocks]:
        """The range's logs, and `blocks` read in full in the same request."""
        span = {"fromBlock": hex(first), "toBlock": hex(last)}
        calls = []
        if self._addresses:
            calls.append(("eth_getLogs", [{**span, "address": self._addresses}]))
        if self._topics:
            calls.append(("eth_getLogs", [{**span, "topics": [self._topics]}]))
        tracing = self._trace_blocks(blocks or [], traced)
        keys, block_calls = self._block_calls(blocks or [], [], tracing)
        # a node without these blocks would answer "no logs": only one that has them answers
        answers = self.rpc.batch(calls + block_calls, errors_as_values=True, at_least=last)
        for answer in answers[:len(calls)]:
            if isinstance(answer, RpcAnswerError):
                raise answer
        return answers[:len(calls)], {**self._block_answers(keys, answers[len(calls):]), **tracing}

    def _prefetch_range(self, first: int, last: int, full_from: int, traced: int) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-prefetch")
        self._prefetch = ((first, last), self._pool.submit(self._request_range, first, last, full_from, traced))

    def _request_range(self, first: int, last: int, full_from: int, traced: int) -> tuple[list[Any], RawBlocks]:
        """Worker thread: raw logs of a range, then the raw blocks they need (parsed and checked later)."""
        answers, _ = self._request_logs(first, last)
        try:
            with_logs = {int(raw["blockNumber"], 16) for answer in answers for raw in answer}
        except (TypeError, ValueError, KeyError):
            return answers, {}  # a malformed answer: the main thread reports it
        return answers, self._request_blocks(*blocks_needed(first, last, with_logs, full_from), traced)

    @staticmethod
    def _block_calls(full: list[int], bare: list[int], tracing: RawBlocks) -> tuple[list[tuple[int, Any]], list[tuple[str, list[Any]]]]:
        """Keys and calls for blocks read in full and bare headers; a block whose traces are `tracing` (on the
        tracing worker) is asked as its header."""
        keys: list[tuple[int, Any]] = []
        for n in full:
            keys.append((n, False) if (n, "trace") in tracing else (n, True))
        keys += [(n, False) for n in bare if (n, False) not in keys]
        return keys, [("eth_getBlockByNumber", [hex(n), with_txs]) for n, with_txs in keys]

    @staticmethod
    def _block_answers(keys: list[tuple[int, Any]], answers: list[Any]) -> RawBlocks:
        raws: RawBlocks = {}
        for key, answer in zip(keys, answers):
            if isinstance(answer, RpcAnswerError):
                raise answer
            raws[key] = answer
        return raws

    def _trace_blocks(self, full: list[int], traced: int) -> RawBlocks:
        """Send the traces of the blocks read in full from `traced` on to the tracing worker, ahead of the rest."""
        wanted = [n for n in full if self._traces_blocks(n, traced)]
        if wanted and self._tracer is None:
            self._tracer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-trace")
        return {(n, "trace"): self._tracer.submit(self._trace_block, n) for n in wanted}  # type: ignore[union-attr]

    def _traces_blocks(self, number: int, traced: int) -> bool:
        return number >= traced and self.memory.parity is not False and self.memory.cheap_block_traces

    def _trace_block(self, number: int) -> dict[str, list[dict[str, Any]]] | None:
        """Tracing worker: one block's traces grouped by transaction; None when the node does not trace blocks."""
        started = time.perf_counter()
        answer = self.rpc.batch([("trace_block", [hex(number)])], errors_as_values=True, at_least=number)[0]
        if isinstance(answer, RpcAnswerError):
            if self.memory.parity is None:
                log.info("%s: the node does not answer trace_block (%s); reading full blocks", self.name, answer.message)
            self.memory.parity = False
            return None
        self.memory.parity = True
        grouped = traces.group_parity(answer)
        if len(grouped) >= 20 and len(self._trace_costs) < TRACE_SAMPLES:
            self._trace_costs.append((time.perf_counter() - started) * 1000 / len(grouped))
            cost = statistics.median(self._trace_costs)
            if len(self._trace_costs) == TRACE_SAMPLES and cost > TRACE_MS_PER_TX:  # it re-executes blocks
                self.memory.cheap_block_traces = False
                log.info("%s: trace_block costs %.2f ms per transaction on this node; live blocks are read in full",
                         self.name, cost)
        return grouped

    def _request_blocks(self, full: list[int], bare: list[int], traced: int = UNTRACED) -> RawBlocks:
        raws = self._trace_blocks(full, traced)
        keys, calls = self._block_calls(full, bare, raws)
        for i in range(0, len(keys), BATCH):
            answers = self.rpc.batch(calls[i:i + BATCH], errors_as_values=True, at_least=max(n for n, _ in keys[i:i + BATCH]))
            raws.update(self._block_answers(keys[i:i + BATCH], answers))
        return raws

    def _parse_logs(self, answers: list[Any], first: int, last: int) -> list[Log]:
        decoders: dict[tuple[str, str | None], tuple[list[Any], str | None]] = {}
        names, candidates = self.registry.names, self.registry.candidates

        def decode(address: str, topics: tuple[str, ...], data: str) -> tuple[str | None, dict[str, Any] | None, str | None]:
            key = (address, topics[0] if topics else None)
            known = decoders.get(key)
            if known is None:
                known = decoders[key] = (candidates(*key), names.get(address))
            for spec in known[0]:
                args = spec.decode_raw(topics, data)
                if args is not None:
                    return spec.name, args, known[1]
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


def blocks_needed(first: int, last: int, with_logs: set[int], full_from: int) -> tuple[list[int], list[int]]:
    """Blocks read with their transactions (those with logs, and all from `full_from` on), and the range's
    ends read as bare headers."""
    full = sorted(n for n in with_logs | set(range(max(first, full_from), last + 1)) if first <= n <= last)
    return full, sorted({first, last} - set(full))


def _check_links(read: RangeRead) -> None:
    """Logs must belong to the blocks read, and consecutive blocks read must link by parent hash."""
    for number, items in read.logs_by_block().items():
        if any(item.block_hash != read.blocks[number].hash for item in items):
            raise ChainMoved(f"logs of block {number} belong to another branch (reorg in progress)")
    for number in range(read.first + 1, read.last + 1):
        if number in read.blocks and number - 1 in read.blocks and read.blocks[number].parent_hash != read.blocks[number - 1].hash:
            raise ChainMoved(f"block {number} does not link to block {number - 1} (reorg in progress)")
