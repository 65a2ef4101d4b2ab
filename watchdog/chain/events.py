"""Typed chain events handed from the listeners to detection. Addresses and hashes are lowercase hex."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    base_fee: int | None = None


@dataclass(slots=True)
class Log:
    address: str
    topics: tuple[str, ...]
    data: str
    block_number: int | None
    block_hash: str | None
    tx_hash: str
    tx_index: int
    log_index: int
    # Filled by the ABI registry when the emitter's ABI knows the event; unknown logs stay raw.
    event: str | None = None
    args: dict[str, Any] | None = None
    contract: str | None = None  # manifest name of the emitter, when watched


@dataclass(slots=True)
class Tx:
    hash: str
    sender: str
    to: str | None
    input: str
    value: int
    block_number: int | None
    index: int | None
    nonce: int = 0
    gas: int = 0
    max_fee: int | None = None
    max_priority_fee: int | None = None
    gas_price: int | None = None
    status: int | None = None  # from the receipt: 1 success, 0 reverted, None unknown/pending


@dataclass(slots=True)
class CallFrame:
    """One frame of a callTracer trace (internal calls, delegatecalls, creations)."""

    type: str
    sender: str
    to: str | None
    input: str
    output: str | None
    value: int
    error: str | None = None
    calls: list["CallFrame"] = field(default_factory=list)
    logs: list[Log] = field(default_factory=list)

    def walk(self) -> "list[CallFrame]":
        """This frame and all nested frames, depth first."""
        frames, stack = [], [self]
        while stack:
            frame = stack.pop()
            frames.append(frame)
            stack.extend(reversed(frame.calls))
        return frames


@dataclass(slots=True)
class PendingTx:
    """A transaction seen in the mempool, simulated against the latest state."""

    tx: Tx
    trace: CallFrame | None = None
    logs: list[Log] = field(default_factory=list)
    first_seen_ms: int = 0


class ChainReader(Protocol):
    """What detection may ask of the chain; implementations batch and cache per block.

    Rules never talk to the node directly: they reach it through this, via their context.
    """

    network: str

    def transaction(self, tx_hash: str) -> Tx: ...

    def receipt(self, tx_hash: str) -> dict[str, Any]: ...

    def trace(self, tx_hash: str) -> CallFrame | None:
        """callTracer trace (with logs), fetched lazily and cached; None if the node cannot trace."""
        ...

    def call(self, to: str, data: str, block: int | str = "latest") -> str:
        """eth_call returning the raw hex result (cached per block)."""
        ...

    def balance(self, address: str, block: int | str = "latest") -> int: ...

    def storage_at(self, address: str, slot: int, block: int | str = "latest") -> str: ...

    def code(self, address: str, block: int | str = "latest") -> str: ...

    def latest_block(self) -> Block | None:
        """The block a pending or scheduled run is judged at: the reader's own block, else the head."""
        ...

    def block_at(self, number: int) -> Block | None:
        """The header of block `number` (None when the node does not have it)."""
        ...

    def logs(self, addresses: list[str], topics: list[Any], from_block: int, to_block: int | str = "latest") -> list[Log]:
        """eth_getLogs of `addresses` with a `topics` filter (a topic, a list of alternatives, or None for any)."""
        ...


@dataclass(slots=True)
class BlockBundle:
    """One block as detection sees it: its logs (watched emitters plus watched topics from any
    emitter), the transactions behind them or calling watched contracts, and a reader for the rest."""

    network: str
    block: Block
    logs: list[Log]
    txs: dict[str, Tx]
    reader: ChainReader

    def logs_of(self, tx_hash: str) -> list[Log]:
        return [log for log in self.logs if log.tx_hash == tx_hash]
