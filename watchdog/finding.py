"""Finding: what a rule reports (modelled on Forta's: name, description, alert id, severity, metadata).

The vocabulary every layer shares: detection makes findings, the store keeps them, the responder acts on them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    def __ge__(self, other: "Severity") -> bool:  # type: ignore[override]
        return self.rank >= Severity(other).rank

    def __gt__(self, other: "Severity") -> bool:  # type: ignore[override]
        return self.rank > Severity(other).rank

    def __le__(self, other: "Severity") -> bool:  # type: ignore[override]
        return self.rank <= Severity(other).rank

    def __lt__(self, other: "Severity") -> bool:  # type: ignore[override]
        return self.rank < Severity(other).rank


# Findings at or above this severity are the ones a default playbook may pause on.
PAUSE_SEVERITY = Severity.HIGH


@dataclass(slots=True)
class Finding:
    rule_id: str
    title: str
    severity: Severity
    confidence: float
    network: str
    description: str = ""
    protocol: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    tx_hash: str | None = None
    pending: bool = False
    addresses: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    key: str = ""  # what makes two findings the same (defaults to rule + tx or block + addresses)
    # On the chain's clock: the timestamp of the finding's block, and the head (number, timestamp) when it was
    # judged. Their gap says whether it is news or history (a backfill after downtime finds old attacks).
    block_time: int | None = None
    head_block: int | None = None
    head_time: int | None = None

    def age(self) -> tuple[int, int] | None:
        """(blocks, seconds) between the finding's block and the head it was judged at; None when unknown."""
        return age(self.block_number, self.block_time, self.head_block, self.head_time)

    @property
    def dedup_key(self) -> str:
        where = self.tx_hash or f"block:{self.block_hash or self.block_number}"
        raw = "|".join([self.network, self.rule_id, where, self.key or ",".join(sorted(self.addresses))])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def age(block_number: int | None, block_time: int | None, head_block: int | None, head_time: int | None) -> tuple[int, int] | None:
    if head_block is None or head_time is None:
        return None
    if block_number is None:  # a pending transaction is judged at the head
        return 0, 0
    return max(0, head_block - block_number), max(0, head_time - (block_time if block_time is not None else head_time))
