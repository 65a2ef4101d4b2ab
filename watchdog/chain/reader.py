"""ChainReader over the RPC client: lazy, batched, cached for the lifetime of one block.

A reader made for a block bundle answers "latest" with that block's state, so a rule sees the chain as
it was when the block was mined, and a replay after a restart sees the same thing.
"""

from __future__ import annotations

import logging
from typing import Any

from watchdog.chain import parse
from watchdog.chain.events import Block, CallFrame, Log, Tx
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.errors import RpcError

log = logging.getLogger("watchdog.reader")
_WARNED: set[tuple[str, str]] = set()


def warn_once(network: str, what: str, message: str) -> None:
    """A degradation said once per network and kind, not once per block."""
    if (network, what) not in _WARNED:
        _WARNED.add((network, what))
        log.warning(message)

TRACER = {"tracer": "callTracer", "tracerConfig": {"withLog": True}}


class BlockReader:
    """Implements watchdog.chain.events.ChainReader."""

    def __init__(self, rpc: RpcClient, network: str, block: int | None = None) -> None:
        self.rpc = rpc
        self.network = network
        self.block = block  # None: the real latest block
        self._cache: dict[tuple[Any, ...], Any] = {}

    def _tag(self, block: int | str) -> str:
        if block == "latest" and self.block is not None:
            return hex(self.block)
        return hex(block) if isinstance(block, int) else block

    def _cached(self, key: tuple[Any, ...], method: str, params: list[Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = self.rpc.call(method, params, at_least=self.block)
        return self._cache[key]

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
        """Fetch many receipts in one batch (rules that need them all in a block call this first)."""
        missing = [h for h in tx_hashes if ("receipt", h) not in self._cache]
        for tx_hash, result in zip(missing, self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in missing], at_least=self.block)):
            self._cache[("receipt", tx_hash)] = result

    def trace(self, tx_hash: str) -> CallFrame | None:
        key = ("trace", tx_hash)
        if key not in self._cache:
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
