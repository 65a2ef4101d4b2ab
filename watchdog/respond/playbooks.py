"""Playbook conditions: which findings (rule ids, severity, confidence, protocol, count in a window)
trigger a playbook's actions."""

from __future__ import annotations

from datetime import timedelta
from fnmatch import fnmatchcase

from watchdog.finding import Severity
from watchdog.config.response import Condition, Playbook
from watchdog.store import FindingRecord, FindingStatus, Store, ledger, utcnow


def matches(condition: Condition, record: FindingRecord) -> bool:
    """The finding alone satisfies the condition (count and window aside). A pattern names a check
    (`drain.tx`, `drain.*`) or a whole rule (`drain`)."""
    family = record.rule_id.partition(".")[0]
    if not any(fnmatchcase(record.rule_id, pattern) or fnmatchcase(family, pattern) for pattern in condition.rules):
        return False
    if Severity(record.severity) < condition.min_severity or record.confidence < condition.min_confidence:
        return False
    if condition.protocols and record.protocol not in condition.protocols:
        return False
    return condition.pending is None or condition.pending == record.pending


def triggered(store: Store, playbook: Playbook, record: FindingRecord) -> bool:
    """The finding matches and, with the other active matching findings of the window, reaches `count`. The
    window is on the chain's clock (block timestamps) when the finding knows its place on it, so that findings
    replayed or caught up on later are counted as they happened, not as they were stored."""
    if not playbook.enabled or not matches(playbook.when, record):
        return False
    if playbook.when.count == 1:
        return True
    window = playbook.when.window_seconds
    moment = record.block_time if record.block_time is not None else record.head_time
    with store.session() as s:
        if moment is not None:
            recent = ledger.findings(s, network=record.network, status=FindingStatus.ACTIVE,
                                     chain_between=(moment - window, moment))
        else:
            recent = ledger.findings(s, network=record.network, status=FindingStatus.ACTIVE,
                                     since=utcnow() - timedelta(seconds=window))
    keys = {r.dedup_key for r in recent if matches(playbook.when, r)} | {record.dedup_key}
    return len(keys) >= playbook.when.count
