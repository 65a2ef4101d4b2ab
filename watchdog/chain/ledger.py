"""The store side of following: findings, block records and the checkpoint, in one transaction."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, select

from watchdog.chain.events import Block
from watchdog.detect.finding import Finding
from watchdog.store.models import BlockRecord, Checkpoint, FindingRecord, utcnow


def to_record(finding: Finding) -> FindingRecord:
    return FindingRecord(
        dedup_key=finding.dedup_key, rule_id=finding.rule_id, title=finding.title,
        description=finding.description, severity=str(getattr(finding.severity, "value", finding.severity)),
        confidence=finding.confidence, network=finding.network, protocol=finding.protocol,
        block_number=finding.block_number, block_hash=finding.block_hash, tx_hash=finding.tx_hash,
        pending=finding.pending, addresses=list(finding.addresses), evidence=dict(finding.evidence),
        labels=dict(finding.labels),
    )


def store_findings(session: Session, findings: list[Finding]) -> list[FindingRecord]:
    """Insert findings not stored yet; re-activate retracted ones found again. Returns what is new."""
    fresh: dict[str, FindingRecord] = {}
    for finding in findings:
        fresh.setdefault(finding.dedup_key, to_record(finding))
    if not fresh:
        return []
    existing = {r.dedup_key: r for r in session.exec(select(FindingRecord).where(FindingRecord.dedup_key.in_(list(fresh))))}
    new: list[FindingRecord] = []
    for key, record in fresh.items():
        old = existing.get(key)
        if old is None:
            session.add(record)
            new.append(record)
        elif old.status == "retracted" or (old.pending and not record.pending):
            # Back on the canonical chain (or a pending finding now mined): same finding, new place.
            old.status, old.pending = "active", record.pending
            old.block_number, old.block_hash = record.block_number, record.block_hash
            old.evidence = record.evidence
            session.add(old)
            new.append(old)
    session.flush()
    return new


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


def roll_back(session: Session, network: str, fork: int, fork_hash: str) -> list[FindingRecord]:
    """Undo everything above the fork point; returns the findings retracted."""
    retracted = list(session.exec(select(FindingRecord).where(
        FindingRecord.network == network, FindingRecord.block_number > fork,
        FindingRecord.status == "active", FindingRecord.pending == False,  # noqa: E712 (SQL expression)
    )))
    for record in retracted:
        record.status = "retracted"
        session.add(record)
    session.exec(delete(BlockRecord).where(BlockRecord.network == network, BlockRecord.number > fork))
    cp = session.get(Checkpoint, network) or Checkpoint(network=network, block_number=fork, block_hash=fork_hash)
    cp.block_number, cp.block_hash, cp.updated_at = fork, fork_hash, utcnow()
    session.add(cp)
    session.flush()
    return retracted
