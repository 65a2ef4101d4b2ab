"""The store: checkpoints, findings, incidents, actions, proposals, scans (SQLModel)."""

from watchdog.store.db import DEFAULT_URL, Store
from watchdog.store.models import AuditEntry, BlockRecord, Checkpoint, FindingRecord, RuleState, utcnow
from watchdog.store import responder  # noqa: F401  (responder tables: incidents, actions, proposals)

__all__ = ["DEFAULT_URL", "AuditEntry", "BlockRecord", "Checkpoint", "FindingRecord", "RuleState", "Store", "utcnow"]
