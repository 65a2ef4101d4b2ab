"""Tables of the responder: incidents and their timeline, actions (one per target and scope), send
attempts, Safe proposals (one SafeTx per Safe nonce) and their signatures, notification threads.

Nothing here ever holds a private key: attempts keep the signed raw transaction (public once sent),
signatures keep the 65-byte owner signature over a safeTxHash.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from watchdog.store.models import utcnow


# Block numbers, timestamps, wei amounts and chain ids are BIGINT: PostgreSQL's INTEGER has 32 bits.


class IncidentStatus(StrEnum):
    OPEN = "open"
    CONTAINED = "contained"  # a pause is mined or was found in place
    RESOLVED = "resolved"


class ActionStatus(StrEnum):
    PENDING = "pending"    # claimed, nothing broadcast yet
    SENT = "sent"
    MINED = "mined"
    REVERTED = "reverted"
    ALREADY_PAUSED = "already_paused"
    ALREADY_DONE = "already_done"  # a Safe nonce used by another transaction
    FAILED = "failed"


class AttemptStatus(StrEnum):
    SIGNED = "signed"
    SENT = "sent"
    ERROR = "error"
    MINED = "mined"
    REPLACED = "replaced"


class ProposalStatus(StrEnum):
    PROPOSED = "proposed"
    EXECUTED = "executed"
    STALE = "stale"  # its Safe nonce was used by another SafeTx


OPEN_ACTIONS = (ActionStatus.PENDING, ActionStatus.SENT)
ACTIVE_INCIDENTS = (IncidentStatus.OPEN, IncidentStatus.CONTAINED)
LIVE_ATTEMPTS = (AttemptStatus.SIGNED, AttemptStatus.SENT)


class Incident(SQLModel, table=True):
    """Findings of one protocol, close in time or sharing an attacker, grouped as one incident."""

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(index=True)
    protocol: str | None = Field(default=None, index=True)
    title: str
    severity: str  # highest severity among its active findings
    status: str = Field(default=IncidentStatus.OPEN, index=True)
    addresses: list[str] = Field(default_factory=list, sa_column=Column(JSON))  # attacker cluster
    first_block: int | None = Field(default=None, sa_type=BigInteger)
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow, index=True)
    contained_at: datetime | None = None
    resolved_at: datetime | None = None
    summary: str = ""
    root_cause: str = ""


class IncidentEvent(SQLModel, table=True):
    """One line of an incident's timeline (UTC)."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(index=True, foreign_key="incident.id")
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str  # opened | finding | retracted | notify | pause | propose | contained | resolved | note
    message: str
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Action(SQLModel, table=True):
    """A state-changing response. Unique per (network, kind, target, scope): the row is inserted
    before anything is sent, so concurrent triggers and restarts find it and never send twice."""

    __table_args__ = (UniqueConstraint("network", "kind", "target", "scope"),)
    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(index=True)
    kind: str  # pause | propose
    target: str  # lowercase address of the paused contract
    scope: str  # bytes32 hex of the guardian scope ("self" for the contract's own pause)
    contract: str = ""  # manifest name
    to: str = ""  # address the transaction calls (guardian, target or Safe)
    data: str = ""  # calldata
    # how to tell the action is done on chain: eth_call(check.to, check.data) is true, or a uint > check.gt
    check: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(default=ActionStatus.PENDING, index=True)
    incident_id: int | None = Field(default=None, index=True)
    trigger: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    tx_hash: str | None = None  # the mined transaction
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = None
    generation: int = 0  # bumped when a finished action is re-armed (target unpaused by governance)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ActionAttempt(SQLModel, table=True):
    """One signed transaction of an action, recorded before it is broadcast and updated after."""

    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(index=True, foreign_key="action.id")
    generation: int = 0
    sender: str
    nonce: int = Field(sa_type=BigInteger)
    max_fee: int = Field(sa_type=BigInteger)
    priority_fee: int = Field(sa_type=BigInteger)
    gas: int = Field(sa_type=BigInteger)
    tx_hash: str = Field(index=True)
    raw_tx: str  # the signed transaction, kept to re-broadcast the same hash after a restart
    status: str = AttemptStatus.SIGNED
    error: str | None = None
    at: datetime = Field(default_factory=utcnow)


class Proposal(SQLModel, table=True):
    """A SafeTx proposed to the governance Safe, with the evidence signers review."""

    __table_args__ = (UniqueConstraint("chain_id", "safe", "nonce"),)
    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(index=True)
    chain_id: int = Field(sa_type=BigInteger)
    safe: str
    nonce: int = Field(sa_type=BigInteger)
    to: str
    value: int = Field(default=0, sa_type=BigInteger)
    data: str
    operation: int = 0
    safe_tx_gas: int = Field(default=0, sa_type=BigInteger)
    base_gas: int = Field(default=0, sa_type=BigInteger)
    gas_price: int = Field(default=0, sa_type=BigInteger)
    gas_token: str = "0x0000000000000000000000000000000000000000"
    refund_receiver: str = "0x0000000000000000000000000000000000000000"
    safe_tx_hash: str = Field(unique=True, index=True)
    threshold: int
    owners: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    target: str = ""
    scope: str = ""
    contract: str = ""
    description: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(default=ProposalStatus.PROPOSED, index=True)
    incident_id: int | None = Field(default=None, index=True)
    exec_tx_hash: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    executed_at: datetime | None = None


class ProposalSignature(SQLModel, table=True):
    """An owner's ECDSA signature (r‖s‖v, v 27/28) over the proposal's safeTxHash."""

    __table_args__ = (UniqueConstraint("proposal_id", "owner"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(index=True, foreign_key="proposal.id")
    owner: str
    signature: str
    at: datetime = Field(default_factory=utcnow)


class NotificationThread(SQLModel, table=True):
    """Where an incident's messages go on one notifier (Slack ts, Discord thread, Telegram message id,
    PagerDuty dedup key): one incident is one thread."""

    __table_args__ = (UniqueConstraint("incident_id", "notifier"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(index=True, foreign_key="incident.id")
    notifier: str
    ref: str
    at: datetime = Field(default_factory=utcnow)
