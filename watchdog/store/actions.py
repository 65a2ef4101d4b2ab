"""State-changing actions (one per network, kind, target and scope) and their signed attempts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from watchdog.store.models import utcnow
from watchdog.store.responder import OPEN_ACTIONS, Action, ActionAttempt, ActionStatus


def action_for(session: Session, network: str, kind: str, target: str, scope: str) -> Action | None:
    return session.exec(select(Action).where(Action.network == network, Action.kind == kind,
                                             Action.target == target, Action.scope == scope)).first()


def open_actions(session: Session, network: str) -> list[Action]:
    return list(session.exec(select(Action).where(Action.network == network, col(Action.status).in_(OPEN_ACTIONS))))


def actions(session: Session, incident_id: int | None = None) -> list[Action]:
    query = select(Action)
    if incident_id is not None:
        query = query.where(Action.incident_id == incident_id)
    return list(session.exec(query.order_by(col(Action.id))))


def rearm(session: Session, action: Action, **values: Any) -> bool:
    """Claim a finished action again (status back to pending, next generation) unless another process did it
    first: True when this call won."""
    result = session.execute(
        update(Action)
        .where(col(Action.id) == action.id, col(Action.status) == action.status,
               col(Action.generation) == action.generation)
        .values(status=ActionStatus.PENDING, generation=action.generation + 1, tx_hash=None, block_number=None,
                error=None, updated_at=utcnow(), **values))
    return result.rowcount == 1  # type: ignore[attr-defined]


def attempts(session: Session, action: Action) -> list[ActionAttempt]:
    """The signed transactions of the action's current generation, oldest first."""
    return list(session.exec(select(ActionAttempt).where(ActionAttempt.action_id == action.id,
                                                         ActionAttempt.generation == action.generation)
                             .order_by(col(ActionAttempt.id))))
