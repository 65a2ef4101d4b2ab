"""Reading a range of blocks: the logs of the watched contracts (and of watched topics from any emitter) over
adaptive `eth_getLogs` ranges, and the blocks behind them, with the next range requested ahead of time.

The range halves when a provider refuses it and grows back after successes, aiming at about
LOGS_PER_REQUEST logs per request (bounded memory, a pipeline that keeps moving). While the caller processes
one range, a worker thread already asks the node for the logs and blocks of the next one.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from watchdog.chain import parse
from watchdog.chain.abi import AbiRegistry
from watchdog.chain.events import Block, Log
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.errors import RpcError

log = logging.getLogger("watchdog.logsource")

BATCH = 100                # JSON-RPC calls per HTTP request when fetching many blocks
LOGS_PER_REQUEST = 5000    # the log range adapts to return about this many logs per eth_getLogs
CEILING_TTL = 100          # ranges fetched below a refused span before trying wider ones again

RawBlocks = dict[tuple[int, bool], Any]  # (number, with transactions) -> raw block


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

    def logs_by_block(self) -> dict[int, list[Log]]:
        grouped: dict[int, list[Log]] = {}
        for item in self.logs:
            grouped.setdefault(item.block_number, []).append(item)  # type: ignore[arg-type]
        return grouped


class LogSource:
    def __init__(self, rpc: RpcClient, addresses: set[str], topics: set[str], registry: AbiRegistry, *,
                 max_range: int = 2000, name: str = "chain") -> None:
        self.rpc = rpc
        self.registry = registry
        self.max_range = max_range
        self.name = name
        self._addresses = sorted(a.lower() for a in addresses)
        self._topics = sorted(t.lower() for t in topics)
        self._span = min(max_range, 10)           # grows quickly where logs are sparse
        self._ceiling, self._ceiling_ttl = 0, 0   # a span the provider refused (0: none known)
        self._pool: ThreadPoolExecutor | None = None
        self._prefetch: tuple[tuple[int, int], Future[tuple[list[Any], RawBlocks]]] | None = None

    def read(self, first: int, target: int, full_from: int) -> RangeRead:
        """Blocks first..last for the largest last <= target the provider accepts. Blocks with logs, and every
        block from `full_from` on (a call to a watched contract may emit nothing), come with transactions."""
        last, answers, prefetched = self._logs(first, target, full_from)
        logs = self._parse_logs(answers, first, last)
        full, bare = blocks_needed(first, last, {item.block_number for item in logs}, full_from)  # type: ignore[misc]
        raws = {**prefetched, **self._request_blocks([n for n in full if prefetched.get((n, True)) is None],
                                                     [n for n in bare if prefetched.get((n, False)) is None])}
        read = RangeRead(first, last, logs, {})
        for number, with_txs in [(n, True) for n in full] + [(n, False) for n in bare]:
            raw = raws.get((number, with_txs))
            if raw is None:
                raise ChainMoved(f"block {number} vanished while reading (reorg in progress)")
            read.blocks[number] = parse.block(raw)
            if with_txs:
                read.txs[number] = [t for t in raw.get("transactions") or [] if isinstance(t, dict)]
        _check_links(read)
        return read

    def close(self) -> None:
        """Stop the prefetch worker (the RPC client belongs to the caller)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._prefetch = None, None

    # --- logs, adaptive range ---
    def _logs(self, first: int, target: int, full_from: int) -> tuple[int, list[Any], RawBlocks]:
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
            try:
                answers = self._request_logs(first, last)
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
            self._prefetch_range(last + 1, min(target, last + self._span), full_from)
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

    def _request_logs(self, first: int, last: int) -> list[Any]:
        span = {"fromBlock": hex(first), "toBlock": hex(last)}
        calls = []
        if self._addresses:
            calls.append(("eth_getLogs", [{**span, "address": self._addresses}]))
        if self._topics:
            calls.append(("eth_getLogs", [{**span, "topics": [self._topics]}]))
        return self.rpc.batch(calls, at_least=last)  # a node without these blocks would answer "no logs"

    def _prefetch_range(self, first: int, last: int, full_from: int) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-prefetch")
        self._prefetch = ((first, last), self._pool.submit(self._request_range, first, last, full_from))

    def _request_range(self, first: int, last: int, full_from: int) -> tuple[list[Any], RawBlocks]:
        """Worker thread: raw logs of a range, then the raw blocks they need (parsed and checked later)."""
        answers = self._request_logs(first, last)
        try:
            with_logs = {int(raw["blockNumber"], 16) for answer in answers for raw in answer}
        except (TypeError, ValueError, KeyError):
            return answers, {}  # a malformed answer: the main thread reports it
        return answers, self._request_blocks(*blocks_needed(first, last, with_logs, full_from))

    def _request_blocks(self, full: list[int], bare: list[int]) -> RawBlocks:
        keys = [(n, True) for n in full] + [(n, False) for n in bare]
        answers: list[Any] = []
        for i in range(0, len(keys), BATCH):
            answers += self.rpc.batch([("eth_getBlockByNumber", [hex(n), flag]) for n, flag in keys[i:i + BATCH]],
                                      at_least=max(n for n, _ in keys))
        return dict(zip(keys, answers))

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
