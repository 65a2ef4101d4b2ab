"""Typed chain events handed from the listeners to detection. Addresses and hashes are lowercase hex."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
