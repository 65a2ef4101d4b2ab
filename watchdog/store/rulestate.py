"""Rules' persistent state: one JSON value per (network, rule, key)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from watchdog.store.models import RuleState, utcnow


def get_value(session: Session, network: str, rule_id: str, key: str) -> Any:
    row = _row(session, network, rule_id, key)
    return row.value if row is not None else None


def put_value(session: Session, network: str, rule_id: str, key: str, value: Any) -> None:
    row = _row(session, network, rule_id, key)
    if row is None:
        session.add(RuleState(network=network, rule_id=rule_id, key=key, value=value))
    else:
        row.value, row.updated_at = value, utcnow()
        session.add(row)


def _row(session: Session, network: str, rule_id: str, key: str) -> RuleState | None:
    return session.exec(select(RuleState).where(RuleState.network == network, RuleState.rule_id == rule_id,
                                                RuleState.key == key)).first()
