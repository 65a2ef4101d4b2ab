"""The ledger of following a chain: findings, recent block records and the checkpoint, written in the
listener's one transaction."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import delete, func, insert
from sqlmodel import Session, col, select

from watchdog.finding import Finding
from watchdog.store.models import BlockRecord, Checkpoint, FindingRecord, FindingStatus, utcnow


class Block(Protocol):
    """A block as the ledger keeps it (watchdog.chain.events.Block)."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int


def to_row(finding: Finding) -> dict[str, Any]:
    """The FindingRecord columns of a finding; columns it does not set take their model defaults."""
    row: dict[str, Any] = {
        "dedup_key": finding.dedup_key, "rule_id": finding.rule_id, "title": finding.title,
        "description": finding.description, "severity": str(getattr(finding.severity, "value", finding.severity)),
        "confidence": finding.confidence, "network": finding.network, "protocol": finding.protocol,
        "block_number": finding.block_number, "block_hash": finding.block_hash, "tx_hash": finding.tx_hash,
        "pending": finding.pending, "addresses": list(finding.addresses), "evidence": dict(finding.evidence),
        "labels": dict(finding.labels), "block_time": finding.block_time, "head_block": finding.head_block,
        "head_time": finding.head_time,
    }
    for name, field in FindingRecord.model_fields.items():
        if name != "id" and name not in row and not field.is_required():
            row[name] = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    return row


def store_findings(session: Session, findings: list[Finding]) -> list[FindingRecord]:
    """Insert findings not stored yet; re-activate retracted ones found again. Returns what is new.

    New rows go in with one bulk INSERT and are read back (several times faster than building ORM
    objects one by one when a rule is noisy).
    """
    fresh: dict[str, Finding] = {}
    for finding in findings:
        fresh.setdefault(finding.dedup_key, finding)
    if not fresh:
        return []
    existing = {r.dedup_key: r for r in _by_keys(session, list(fresh))}
    rows = [to_row(f) for key, f in fresh.items() if key not in existing]
    revived: list[FindingRecord] = []
    for key, old in existing.items():
        finding = fresh[key]
        if old.status == FindingStatus.RETRACTED or (old.pending and not finding.pending):
            # Back on the canonical chain (or a pending finding now mined): same finding, new place.
            old.status, old.pending = FindingStatus.ACTIVE, finding.pending
            old.block_number, old.block_hash = finding.block_number, finding.block_hash
            old.block_time, old.head_block, old.head_time = finding.block_time, finding.head_block, finding.head_time
            old.evidence = dict(finding.evidence)
            session.add(old)
            revived.append(old)
    if rows:
        session.execute(insert(FindingRecord), rows)
    session.flush()
    inserted = {r.dedup_key: r for r in _by_keys(session, [row["dedup_key"] for row in rows])}
    order = {key: n for n, key in enumerate(fresh)}
    return sorted(revived + list(inserted.values()), key=lambda r: order[r.dedup_key])


def _by_keys(session: Session, keys: list[str]) -> list[FindingRecord]:
    found: list[FindingRecord] = []
    for i in range(0, len(keys), 500):  # stay far below SQL parameter limits
        found += session.exec(select(FindingRecord).where(FindingRecord.dedup_key.in_(keys[i:i + 500])))
    return found


def checkpoint(session: Session, network: str) -> Checkpoint | None:
    return session.get(Checkpoint, network)


def advance(session: Session, network: str, head: Block, records: list[Block], keep_from: int) -> None:
    """Move the checkpoint to `head`, remember recent blocks, forget those older than `keep_from`."""
    numbers = [b.number for b in records]
    if numbers:
        session.exec(delete(BlockRecord).where(BlockRecord.network == network, BlockRecord.number.in_(numbers)))
    session.exec(delete(BlockRecord).where(BlockRecord.network == network, BlockRecord.number < keep_from))
    for b in records:
        session.add(BlockRecord(network=network, number=b.number, hash=b.hash, parent_hash=b.parent_hash, timestamp=b.timestamp))
    cp = session.get(Checkpoint, network) or Checkpoint(network=network, block_number=head.number, block_hash=head.hash)
    cp.block_number, cp.block_hash, cp.updated_at = head.number, head.hash, utcnow()
    session.add(cp)


def recent_blocks(session: Session, network: str) -> list[BlockRecord]:
    return list(session.exec(select(BlockRecord).where(BlockRecord.network == network).order_by(BlockRecord.number.desc())))


def finding_blocks(session: Session, network: str, low: int, high: int) -> dict[int, set[str]]:
    """Block number -> block hashes of the active (mined) findings in [low, high]."""
    rows = session.exec(select(FindingRecord.block_number, FindingRecord.block_hash).where(
        FindingRecord.network == network, FindingRecord.status == FindingStatus.ACTIVE, FindingRecord.pending == False,  # noqa: E712
        FindingRecord.block_number >= low, FindingRecord.block_number <= high))
    found: dict[int, set[str]] = {}
    for number, block_hash in rows:
        found.setdefault(number, set()).add(block_hash)
    return found


def roll_back(session: Session, network: str, fork: int, fork_hash: str) -> list[FindingRecord]:
    """Undo everything above the fork point; returns the findings retracted."""
    retracted = list(session.exec(select(FindingRecord).where(
        FindingRecord.network == network, FindingRecord.block_number > fork,
        FindingRecord.status == FindingStatus.ACTIVE, FindingRecord.pending == False,  # noqa: E712 (SQL expression)
    )))
    for record in retracted:
        record.status = FindingStatus.RETRACTED
        session.add(record)
    session.exec(delete(BlockRecord).where(BlockRecord.network == network, BlockRecord.number > fork))
    cp = session.get(Checkpoint, network) or Checkpoint(network=network, block_number=fork, block_hash=fork_hash)
    cp.block_number, cp.block_hash, cp.updated_at = fork, fork_hash, utcnow()
    session.add(cp)
    session.flush()
    return retracted


# --- findings as the responder, reports and commands read them ---

def finding_by_key(session: Session, dedup_key: str) -> FindingRecord | None:
    return session.exec(select(FindingRecord).where(FindingRecord.dedup_key == dedup_key)).first()


def findings_by_keys(session: Session, keys: list[str]) -> dict[str, FindingRecord]:
    return {r.dedup_key: r for r in _by_keys(session, keys)}


def findings(session: Session, *, incident_id: int | None = None, network: str | None = None,
             status: str | None = None, since: Any = None,
             chain_between: tuple[int, int] | None = None) -> list[FindingRecord]:
    """Findings in the order they were stored, filtered by incident, network, status, storage time, or chain
    time (their block's timestamp, else the head's when they were judged: a pending transaction)."""
    query = select(FindingRecord)
    if incident_id is not None:
        query = query.where(FindingRecord.incident_id == incident_id)
    if network is not None:
        query = query.where(FindingRecord.network == network)
    if status is not None:
        query = query.where(FindingRecord.status == status)
    if since is not None:
        query = query.where(col(FindingRecord.created_at) >= since)
    if chain_between is not None:
        moment = func.coalesce(FindingRecord.block_time, FindingRecord.head_time)
        query = query.where(moment >= chain_between[0], moment <= chain_between[1])
    return list(session.exec(query.order_by(col(FindingRecord.created_at), col(FindingRecord.id))))


def findings_by_block(session: Session) -> list[FindingRecord]:
    return list(session.exec(select(FindingRecord).order_by(FindingRecord.block_number, FindingRecord.id)))


def block_record(session: Session, network: str, number: int) -> BlockRecord | None:
    return session.exec(select(BlockRecord).where(BlockRecord.network == network, BlockRecord.number == number)).first()


def add_evidence(session: Session, finding_id: int, key: str, value: Any) -> None:
    """Add to a stored finding's evidence (what was learned after it was made: a source scan)."""
    row = session.get(FindingRecord, finding_id)
    if row is not None:
        row.evidence = {**(row.evidence or {}), key: value}
        session.add(row)


def findings_of_tx(session: Session, tx_hash: str) -> list[FindingRecord]:
    """The active findings about one transaction."""
    return list(session.exec(select(FindingRecord).where(FindingRecord.tx_hash == tx_hash.lower(),
                                                         FindingRecord.status == FindingStatus.ACTIVE)
                             .order_by(col(FindingRecord.id))))
