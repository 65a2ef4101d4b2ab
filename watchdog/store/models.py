"""Tables of the store. Every bit of progress and every action lives here (restart-safe)."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from watchdog.finding import age


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# Block numbers, timestamps, wei amounts and chain ids are BIGINT: PostgreSQL's INTEGER has 32 bits.


class FindingStatus(StrEnum):
    ACTIVE = "active"
    RETRACTED = "retracted"  # its block was reorged out


class Checkpoint(SQLModel, table=True):
    """The last block fully processed per network (committed with that block's findings)."""

    network: str = Field(primary_key=True)
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str
    updated_at: datetime = Field(default_factory=utcnow)


class BlockRecord(SQLModel, table=True):
    """Recent canonical blocks (number → hash, parent) to find the fork point of a reorg."""

    __table_args__ = (UniqueConstraint("network", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(index=True)
    number: int = Field(index=True, sa_type=BigInteger)
    hash: str
    parent_hash: str
    timestamp: int = Field(default=0, sa_type=BigInteger)


class FindingRecord(SQLModel, table=True):
    """A persisted finding. `dedup_key` is unique: the same finding is never stored twice."""

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(unique=True, index=True)
    rule_id: str = Field(index=True)
    title: str
    description: str = ""
    severity: str
    confidence: float = 0.5
    network: str = Field(index=True)
    protocol: str | None = Field(default=None, index=True)
    block_number: int | None = Field(default=None, index=True, sa_type=BigInteger)
    block_hash: str | None = None
    tx_hash: str | None = Field(default=None, index=True)
    pending: bool = False
    addresses: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    labels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    block_time: int | None = Field(default=None, sa_type=BigInteger)  # its block's timestamp
    head_block: int | None = Field(default=None, sa_type=BigInteger)  # the head when it was judged
    head_time: int | None = Field(default=None, sa_type=BigInteger)
    historical: bool = False  # judged long after its block: reported, never acted on
    status: str = Field(default=FindingStatus.ACTIVE, index=True)
    incident_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)

    def age(self) -> tuple[int, int] | None:
        """(blocks, seconds) between its block and the head it was judged at; None when unknown."""
        return age(self.block_number, self.block_time, self.head_block, self.head_time)


class RuleState(SQLModel, table=True):
    """Per-rule persistent state (price history, statistics), one JSON value per key and network: two chains
    with the same contract addresses keep apart."""

    __table_args__ = (UniqueConstraint("network", "rule_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(default="", index=True)
    rule_id: str = Field(index=True)
    key: str
    value: Any = Field(default=None, sa_column=Column(JSON))
    updated_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Every action the watchdog takes or is asked to take, with who and what (never a secret)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    action: str = Field(index=True)
    subject: str = ""
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
