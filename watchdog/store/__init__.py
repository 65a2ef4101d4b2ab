"""The store: checkpoints, findings, incidents, actions, proposals, scans (SQLModel)."""

from watchdog.store.db import DEFAULT_URL, Store
from watchdog.store.models import AuditEntry, BlockRecord, Checkpoint, FindingRecord, RuleState, utcnow

__all__ = ["DEFAULT_URL", "AuditEntry", "BlockRecord", "Checkpoint", "FindingRecord", "RuleState", "Store", "utcnow"]
