"""The audit log: every action taken or asked for (written with `Store.audit`)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from watchdog.store.models import AuditEntry


def entries(session: Session, action_prefix: str | None = None, subject: str | None = None) -> list[AuditEntry]:
    """Oldest first; `action_prefix` keeps the actions starting with it (e.g. "ui_")."""
    query = select(AuditEntry)
    if action_prefix is not None:
        query = query.where(col(AuditEntry.action).startswith(action_prefix))
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    return list(session.exec(query.order_by(col(AuditEntry.id))))
