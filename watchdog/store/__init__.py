"""The store: it owns every table and every query (checkpoints, findings, rule state, incidents, actions,
proposals). Other modules open a session (`with store.session() as s:`) and call the query functions of
`ledger`, `rulestate`, `incidents`, `actions` and `proposals` with it."""

from watchdog.store import actions, audit, incidents, ledger, proposals, responder, rulestate
from watchdog.store.db import DEFAULT_URL, Store
from watchdog.store.models import AuditEntry, BlockRecord, Checkpoint, FindingRecord, FindingStatus, RuleState, utcnow

__all__ = ["DEFAULT_URL", "AuditEntry", "BlockRecord", "Checkpoint", "FindingRecord", "FindingStatus", "RuleState",
           "Store", "actions", "audit", "incidents", "ledger", "proposals", "responder", "rulestate", "utcnow"]
