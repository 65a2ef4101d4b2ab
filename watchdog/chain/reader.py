"""ChainReader over the RPC client: lazy, batched, cached for the lifetime of one block.

A reader made for a block bundle answers "latest" with that block's state, so a rule sees the chain as
it was when the block was mined, and a replay after a restart sees the same thing.

Readers of one network share a `ReaderMemory`: the state reads the rules asked for in recent blocks are asked
again for the next block in ONE batch, together with its receipts (rules read the same balances, slots and views
block after block), and what the node answered about tracing is remembered. A read nobody asked for in a while
is dropped from the plan; a read outside the plan is still answered, one request at a time.
"""

from __future__ import annotations

import logging
from typing import Any

from watchdog.chain import parse, traces
from watchdog.chain.events import Block, CallFrame, Log, Tx
from watchdog.chain.rpc import Call, RpcAnswerError, RpcClient
from watchdog.errors import RpcError

log = logging.getLogger("watchdog.reader")
_WARNED: set[tuple[str, str]] = set()


def warn_once(network: str, what: str, message: str) -> None:
    """A degradation said once per network and kind, not once per block."""
    if (network, what) not in _WARNED:
        _WARNED.add((network, what))
        log.warning(message)

TRACER = traces.CALL_TRACER
STATE_READS = ("call", "balance", "storage", "code")


class ReaderMemory:
    """What one network's block readers carry from block to block: the planned reads (keyed relative to the
    block: 0 its own state, -1 the state before it) and whether the node traces whole blocks."""

    def __init__(self, keep_blocks: int = 8, max_reads: int = 512) -> None:
        self.keep_blocks = keep_blocks
        self.max_reads = max_reads
        self.reads: dict[tuple[Any, ...], int] = {}  # (kind, *args, offset) -> last block it was asked at
        self.parity: bool | None = None               # trace_block / trace_transaction answered (None: not asked)
        self.debug_block: bool | None = None          # debug_traceBlockByNumber answered
        self.cheap_block_traces = True                # trace_block answers from kept traces, without re-executing

    def remember(self, key: tuple[Any, ...], block: int) -> None:
        if len(self.reads) < self.max_reads or key in self.reads:
            self.reads[key] = block

    def plan(self, block: int) -> list[tuple[Any, ...]]:
        """The relative keys worth asking for `block`; older ones are forgotten."""
        self.reads = {k: b for k, b in self.reads.items() if block - b <= self.keep_blocks}
        return list(self.reads)


def _request(key: tuple[Any, ...]) -> Call:
    """The JSON-RPC call behind a cache key (kind, *args, tag)."""
    kind, *args, tag = key
    if kind == "call":
        return "eth_call", [{"to": args[0], "data": args[1]}, tag]
    if kind == "balance":
        return "eth_getBalance", [args[0], tag]
    if kind == "storage":
        return "eth_getStorageAt", [args[0], hex(args[1]), tag]
    return "eth_getCode", [args[0], tag]


class BlockReader:
    """Implements watchdog.chain.events.ChainReader."""

    def __init__(self, rpc: RpcClient, network: str, block: int | None = None, memory: ReaderMemory | None = None) -> None:
        self.rpc = rpc
        self.network = network
        self.block = block  # None: the real latest block
        self.memory = memory if block is not None else None  # plans are relative to a block
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._raw_traces: dict[str, traces.RawTrace] = {}

    def _tag(self, block: int | str) -> str:
        if block == "latest" and self.block is not None:
            return hex(self.block)
        return hex(block) if isinstance(block, int) else block

    def _cached(self, key: tuple[Any, ...], method: str, params: list[Any]) -> Any:
        if self.memory is not None and key[0] in STATE_READS:
            offset = int(key[-1], 16) - self.block if key[-1].startswith("0x") else None  # type: ignore[operator]
            if offset in (0, -1):
                self.memory.remember((*key[:-1], offset), self.block)  # type: ignore[arg-type]
        if key not in self._cache:
            self._cache[key] = self.rpc.call(method, params, at_least=self.block)
        value = self._cache[key]
        if isinstance(value, RpcAnswerError):  # asked ahead in a batch: the node's error, raised where it is read
            raise value
        return value

    def latest_block(self) -> Block | None:
        """The reader's own block, else the head (None when the node cannot say)."""
        try:
            return parse.block(self.rpc.call("eth_getBlockByNumber", [self._tag("latest"), False], at_least=self.block))
        except RpcError as exc:
            log.warning("%s: cannot read the latest block: %s", self.network, exc)
            return None

    def remember_tx(self, item: Tx) -> None:
        """Seed the cache with a transaction already fetched with its block."""
        self._cache[("tx", item.hash)] = item

    def transaction(self, tx_hash: str) -> Tx:
        key = ("tx", tx_hash)
        if key not in self._cache:
            raw = self.rpc.call("eth_getTransactionByHash", [tx_hash], at_least=self.block)
            if raw is None:
                raise parse.BadRpcAnswer(f"transaction {tx_hash} is unknown to the node")
            self._cache[key] = parse.tx(raw)
        return self._cache[key]

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        return self._cached(("receipt", tx_hash), "eth_getTransactionReceipt", [tx_hash])

    def prefetch_receipts(self, tx_hashes: list[str]) -> None:
        """The receipts of `tx_hashes` and the planned state reads of this block, in one batch."""
        keys = [("receipt", h) for h in tx_hashes if ("receipt", h) not in self._cache]
        if self.memory is not None and self.block is not None:
            planned = [(*key[:-1], hex(self.block + key[-1])) for key in self.memory.plan(self.block)]
            keys += [key for key in planned if key not in self._cache and int(key[-1], 16) >= 0]
        calls = [("eth_getTransactionReceipt", [k[1]]) if k[0] == "receipt" else _request(k) for k in keys]
        for key, result in zip(keys, self.rpc.batch(calls, errors_as_values=True, at_least=self.block)):
            if key[0] == "receipt" and isinstance(result, RpcAnswerError):
                raise result
            self._cache[key] = result

    # --- traces ---
    def seed_traces(self, raw: dict[str, traces.RawTrace]) -> None:
        """Traces that came with the block (parsed only when a rule asks for one)."""
        self._raw_traces.update(raw)

    def has_trace(self, tx_hash: str) -> bool:
        return ("trace", tx_hash) in self._cache or tx_hash in self._raw_traces

    def prefetch_traces(self, tx_hashes: list[str], positions: dict[str, int], block_size: int) -> None:
        """Fetch the traces of `tx_hashes` in one request: the whole block's when re-executing the block up to each
        of them would cost more than executing it once, else a batch of per-transaction traces."""
        missing = [h for h in dict.fromkeys(tx_hashes) if not self.has_trace(h)]
        if not missing or self.block is None:
            return
        memory = self.memory or ReaderMemory()
        whole = sum(positions.get(h, block_size) + 1 for h in missing) >= block_size
        try:
            if memory.parity is not False:
                self._fetch_parity(missing, whole, memory)
                if all(self.has_trace(h) for h in missing):
                    return
            if whole and memory.debug_block is not False:
                self._fetch_debug_block(memory)
                missing = [h for h in missing if not self.has_trace(h)]
            answers = self.rpc.batch([("debug_traceTransaction", [h, TRACER]) for h in missing],
                                     errors_as_values=True, at_least=self.block)
            for tx_hash, answer in zip(missing, answers):
                if not isinstance(answer, RpcAnswerError) and answer:
                    self._raw_traces[tx_hash] = answer
        except RpcAnswerError:
            return  # asked again one by one, where a rule reads it (and said once there)

    def _fetch_parity(self, missing: list[str], whole: bool, memory: ReaderMemory) -> None:
        if whole:
            answer = self.rpc.batch([("trace_block", [hex(self.block)])], errors_as_values=True, at_least=self.block)[0]  # type: ignore[arg-type]
            answers = [answer]
        else:
            answers = self.rpc.batch([("trace_transaction", [h]) for h in missing], errors_as_values=True, at_least=self.block)
        if any(isinstance(a, RpcAnswerError) for a in answers):
            memory.parity = False
            return
        memory.parity = True
        grouped: dict[str, Any] = {}
        for answer in answers:
            grouped.update(traces.group_parity(answer))
        self._raw_traces.update(grouped)

    def _fetch_debug_block(self, memory: ReaderMemory) -> None:
        answer = self.rpc.batch([("debug_traceBlockByNumber", [hex(self.block), TRACER])],  # type: ignore[arg-type]
                                errors_as_values=True, at_least=self.block)[0]
        if isinstance(answer, RpcAnswerError) or not isinstance(answer, list):
            memory.debug_block = False
            return
        memory.debug_block = True
        hashes = [item.get("txHash") for item in answer if isinstance(item, dict)]
        if not all(isinstance(h, str) for h in hashes):
            raw = self.rpc.call("eth_getBlockByNumber", [hex(self.block), False], at_least=self.block)  # type: ignore[arg-type]
            hashes = (raw or {}).get("transactions") or []
        for tx_hash, item in zip(hashes, answer):
            if isinstance(item, dict) and isinstance(item.get("result"), dict):
                self._raw_traces[tx_hash.lower()] = item["result"]

    def trace(self, tx_hash: str) -> CallFrame | None:
        key = ("trace", tx_hash)
        if key not in self._cache:
            raw = self._raw_traces.pop(tx_hash, None)
            if raw is not None:
                self._cache[key] = traces.frame(raw, tx_hash, self.block)
                return self._cache[key]
            try:
                raw = self.rpc.call("debug_traceTransaction", [tx_hash, TRACER], at_least=self.block)
                self._cache[key] = parse.call_frame(raw, tx_hash, self.block) if raw else None
            except RpcAnswerError as exc:  # the node cannot trace (method disabled, pruned state)
                warn_once(self.network, "trace", f"{self.network}: the node cannot trace transactions ({exc.message}): "
                          "rules that look inside transactions see less (`watchdog doctor --rpc` says which)")
                self._cache[key] = None
        return self._cache[key]

    def call(self, to: str, data: str, block: int | str = "latest") -> str:
        tag = self._tag(block)
        return self._cached(("call", to.lower(), data, tag), "eth_call", [{"to": to, "data": data}, tag])

    def balance(self, address: str, block: int | str = "latest") -> int:
        tag = self._tag(block)
        return int(self._cached(("balance", address.lower(), tag), "eth_getBalance", [address, tag]), 16)

    def storage_at(self, address: str, slot: int, block: int | str = "latest") -> str:
        tag = self._tag(block)
        return self._cached(("storage", address.lower(), slot, tag), "eth_getStorageAt", [address, hex(slot), tag])

    def code(self, address: str, block: int | str = "latest") -> str:
        tag = self._tag(block)
        return self._cached(("code", address.lower(), tag), "eth_getCode", [address, tag])

    def block_at(self, number: int) -> Block | None:
        raw = self._cached(("block", number), "eth_getBlockByNumber", [hex(number), False])
        return parse.block(raw) if raw else None

    def logs(self, addresses: list[str], topics: list[Any], from_block: int, to_block: int | str = "latest") -> list[Log]:
        """eth_getLogs of `addresses` with a `topics` filter, cached for the reader's life."""
        query = {"address": addresses, "topics": topics, "fromBlock": hex(from_block), "toBlock": self._tag(to_block)}
        key = ("logs", tuple(addresses), repr(topics), from_block, query["toBlock"])
        return parse.log_entries(self._cached(key, "eth_getLogs", [query]))
