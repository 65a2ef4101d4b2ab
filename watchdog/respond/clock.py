"""The chain's clock for incident timelines: block timestamps, read when an incident's moments happen.

An attack starts in a block, so its start is only known in chain time. Detection and containment are
recorded on the same clock (the head's timestamp when a finding is handled, the timestamp of the pause's
block), so that a post-mortem never compares a block time with the wall clock: on a devnet whose time
was warped the two are days apart. Reads are few: one per incident-worthy finding batch, one per pause.
"""

from __future__ import annotations

import threading
from typing import Any

from watchdog.errors import RpcError
from watchdog.respond.rpc import Rpc
from watchdog.store import Store, ledger

REMEMBERED = 256  # block timestamps kept in memory (an incident spans a few blocks)


class ChainClock:
    def __init__(self, rpc: Rpc, store: Store | None = None, network: str | None = None) -> None:
        self.rpc = rpc
        self.store = store
        self.network = network
        self._times: dict[int, int] = {}
        self._lock = threading.Lock()

    def head(self) -> dict[str, int]:
        """The chain's "now": the latest block as {chain_block, chain_time}; empty when the node cannot say
        (the timeline then places the moment by the wall clock)."""
        try:
            block = self.rpc.block("latest")
        except RpcError:
            return {}
        if not block:
            return {}
        number, timestamp = int(block["number"], 16), int(block["timestamp"], 16)
        self._remember(number, timestamp)
        return {"chain_block": number, "chain_time": timestamp}

    def at_block(self, number: int | None) -> dict[str, int]:
        """A moment that happened in block `number` (a pause mined there), as {chain_block, chain_time}."""
        timestamp = self.block_time(number)
        return {} if number is None or timestamp is None else {"chain_block": number, "chain_time": timestamp}

    def at_tx(self, tx_hash: str | None) -> dict[str, int]:
        """The moment a mined transaction (a Safe's execution) landed, as {chain_block, chain_time}."""
        try:
            receipt = self.rpc.receipt(tx_hash) if tx_hash else None
        except RpcError:
            return {}
        return self.at_block(int(receipt["blockNumber"], 16)) if receipt and receipt.get("blockNumber") else {}

    def block_time(self, number: int | None) -> int | None:
        """The timestamp of block `number`: remembered, stored by the daemon, or read from the node."""
        if number is None:
            return None
        with self._lock:
            if number in self._times:
                return self._times[number]
        timestamp = self._stored(number)
        if timestamp is None:
            try:
                block: dict[str, Any] | None = self.rpc.block(number)
            except RpcError:
                return None
            timestamp = int(block["timestamp"], 16) if block else None
        if timestamp is not None:
            self._remember(number, timestamp)
        return timestamp

    def _stored(self, number: int) -> int | None:
        if self.store is None or self.network is None:
            return None
        with self.store.session() as s:
            row = ledger.block_record(s, self.network, number)
        return row.timestamp if row is not None and row.timestamp else None

    def _remember(self, number: int, timestamp: int) -> None:
        with self._lock:
            self._times[number] = timestamp
            while len(self._times) > REMEMBERED:
                self._times.pop(next(iter(self._times)))
