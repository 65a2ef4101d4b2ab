"""Incidents, their timelines and their notification threads."""

from __future__ import annotations

from sqlmodel import Session, col, select

from watchdog.errors import WatchdogError
from watchdog.store.models import FindingRecord, FindingStatus
from watchdog.store.responder import ACTIVE_INCIDENTS, Action, Incident, IncidentEvent, NotificationThread


def incidents(session: Session, status: str | None = None) -> list[Incident]:
    """Newest first."""
    query = select(Incident).order_by(col(Incident.id).desc())
    if status:
        query = query.where(Incident.status == status)
    return list(session.exec(query))


def active_incidents(session: Session, network: str) -> list[Incident]:
    """Open or contained incidents of a network, the most recently active first."""
    return list(session.exec(select(Incident).where(Incident.network == network, col(Incident.status).in_(ACTIVE_INCIDENTS))
                             .order_by(col(Incident.last_seen).desc())))


def events(session: Session, incident_id: int | None = None, kind: str | None = None) -> list[IncidentEvent]:
    """Timeline lines in the order they happened."""
    query = select(IncidentEvent)
    if incident_id is not None:
        query = query.where(IncidentEvent.incident_id == incident_id)
    if kind is not None:
        query = query.where(IncidentEvent.kind == kind)
    return list(session.exec(query.order_by(col(IncidentEvent.at), col(IncidentEvent.id))))


def other_active_findings(session: Session, incident_id: int, dedup_key: str) -> list[FindingRecord]:
    return list(session.exec(select(FindingRecord).where(FindingRecord.incident_id == incident_id,
                                                         FindingRecord.status == FindingStatus.ACTIVE,
                                                         FindingRecord.dedup_key != dedup_key)))


def has_actions(session: Session, incident_id: int | None) -> bool:
    return session.exec(select(Action.id).where(Action.incident_id == incident_id)).first() is not None


def thread_names(session: Session, incident_id: int) -> list[str]:
    """The notifiers that carry this incident's thread."""
    return list(session.exec(select(NotificationThread.notifier).where(NotificationThread.incident_id == incident_id)))


def thread(session: Session, incident_id: int, notifier: str) -> NotificationThread | None:
    return session.exec(select(NotificationThread).where(NotificationThread.incident_id == incident_id,
                                                         NotificationThread.notifier == notifier)).first()


def incident(session: Session, incident_id: int) -> Incident:
    """The incident, or one error line pointing at the list."""
    found = session.get(Incident, incident_id)
    if found is None:
        raise WatchdogError(f"no incident {incident_id}: see `watchdog incidents list`")
    return found
