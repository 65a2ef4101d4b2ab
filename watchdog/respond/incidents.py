"""Incidents: findings grouped per protocol, time window and attacker cluster, with a UTC timeline.

A finding joins an open (or contained) incident of its network when it is of the same protocol within
the window, or shares an address with the incident's attacker cluster within the window. A finding about a
cross-chain route (`labels["routes"]`) first joins the active incident of any network that holds a finding of one
of its routes: one incident, one timeline for a route across its networks. Otherwise it
opens a new incident if it is at or above the opening severity (or a playbook acts on it); a lower finding
(a flash-swap arbitrage, an allowlisted keeper) is context, not an incident: it is stored without one, so
that it can neither start an attack's incident nor move its start. Status: open -> contained (a pause is
mined or found in place) -> resolved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from watchdog.finding import Severity
from watchdog.respond.stages import stage_of, timeline
from watchdog.store import FindingRecord, Store, incidents, ledger, utcnow
from watchdog.store.responder import ACTIVE_INCIDENTS, Incident, IncidentEvent, IncidentStatus

if TYPE_CHECKING:
    from sqlmodel import Session


# Responders of several networks attach findings from their own threads: a route's incident is found or opened by
# one of them at a time, so two networks never open two incidents for one route.
_ATTACH = threading.Lock()


@dataclass(slots=True)
class Attached:
    incident: Incident | None  # None: below the opening severity and no incident to join
    opened: bool
    escalated: bool  # the incident's severity went up with this finding


def aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back: they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class IncidentBook:
    def __init__(self, store: Store, window_seconds: int = 3600, known_contracts: set[str] | None = None,
                 open_min_severity: Severity = Severity.MEDIUM) -> None:
        self.store = store
        self.window = timedelta(seconds=window_seconds)
        self.known = {a.lower() for a in (known_contracts or set())}  # protocol contracts are not attackers
        self.open_min_severity = Severity(open_min_severity)

    def opens(self, record: FindingRecord, acted_on: bool = False) -> bool:
        """The finding may open an incident (and marks its start): severe enough, or a playbook acts on it."""
        return acted_on or Severity(record.severity) >= self.open_min_severity

    def attach(self, record: FindingRecord, acted_on: bool = False, chain: dict[str, int] | None = None) -> Attached:
        """Put the finding in its incident (opening one if it is severe enough, or `acted_on` by a playbook)
        and write the timeline. `chain`: when it was made on the chain's clock ({chain_block, chain_time},
        see watchdog.respond.clock). The finding that opens the incident marks its detection on that clock;
        any finding keeps the time of its block (the incident's start is the earliest)."""
        now = utcnow()
        cluster = {a.lower() for a in record.addresses} - self.known
        significant = self.opens(record, acted_on)
        chain = chain or {}
        in_block = {"block_time": chain["chain_time"]} if chain and chain.get("chain_block") == record.block_number else {}
        with _ATTACH, self.store.session() as s:
            incident = self._match(s, record, cluster, now)
            opened = incident is None
            if incident is None and not significant:
                return Attached(None, False, False)
            if incident is None:
                incident = Incident(network=record.network, protocol=record.protocol, title=record.title,
                                    severity=record.severity, first_block=record.block_number, first_seen=now)
                s.add(incident)
                s.flush()
                s.add(event(incident.id, "opened", f"incident opened by {record.rule_id}: {record.title}", **chain))
            escalated = not opened and Severity(record.severity) > Severity(incident.severity)
            if escalated:
                incident.severity, incident.title = record.severity, record.title
            chained = self._chained(s, incident, record)
            if chained and not opened:
                escalated = True
            incident.addresses = sorted(set(incident.addresses) | cluster)
            incident.last_seen = now
            # the start is the first block of a finding worth an incident: context found later cannot move it
            if significant and record.block_number is not None and (incident.first_block is None
                                                                    or record.block_number < incident.first_block):
                incident.first_block = record.block_number
            s.add(incident)
            row = s.get(FindingRecord, record.id) if record.id is not None else None
            if row is not None:
                row.incident_id = incident.id
            s.add(event(incident.id, "finding", f"{record.severity} {record.rule_id}: {record.title}",
                        finding_id=record.id, rule_id=record.rule_id, tx_hash=record.tx_hash,
                        block=record.block_number, pending=record.pending, addresses=record.addresses,
                        **(chain if opened else {}), **in_block))
            s.flush()
            s.refresh(incident)
        record.incident_id = incident.id
        return Attached(incident, opened, escalated)

    def _chained(self, s: Session, incident: Incident, record: FindingRecord) -> list[str]:
        """When the finding adds an attack stage to an incident that already has another, the stages chain: the
        incident goes one severity up (to critical at three stages) and the timeline says so. The chain, else []."""
        stage = stage_of(record)
        if stage is None or incident.id is None:
            return []
        before = [row["stage"] for row in timeline([f for f in ledger.findings(s, incident_id=incident.id) if f.id != record.id])]
        if stage in before or not before:
            return []
        chain = [row["stage"] for row in timeline([*ledger.findings(s, incident_id=incident.id), record])]
        levels = list(Severity)
        floor = Severity.CRITICAL if len(chain) >= 3 else levels[min(levels.index(Severity(incident.severity)) + 1, len(levels) - 1)]
        if Severity(incident.severity) < floor:
            incident.severity = floor.value
        s.add(event(incident.id, "stage", f"attack stages chained: {' -> '.join(chain)}; severity {incident.severity}",
                    stages=chain, finding_id=record.id))
        return chain

    def _match(self, s: Session, record: FindingRecord, cluster: set[str], now: datetime) -> Incident | None:
        routes = set((record.labels or {}).get("routes") or ())
        if routes:
            for incident in (i for status in ACTIVE_INCIDENTS for i in incidents.incidents(s, status)):
                if now - aware(incident.last_seen) <= self.window and any(
                        routes & set((f.labels or {}).get("routes") or ()) for f in ledger.findings(s, incident_id=incident.id)):
                    return incident
        for incident in incidents.active_incidents(s, record.network):
            if now - aware(incident.last_seen) > self.window:
                continue
            if incident.protocol == record.protocol or cluster & set(incident.addresses):
                return incident
        return None

    def retract(self, record: FindingRecord) -> None:
        """A finding's block was reorged out: note it; an incident left with no active finding and no
        action is resolved as a false start."""
        if record.incident_id is None:
            with self.store.session() as s:
                row = ledger.finding_by_key(s, record.dedup_key)
            if row is None or row.incident_id is None:
                return
            record = row
        with self.store.session() as s:
            incident = s.get(Incident, record.incident_id)
            if incident is None:
                return
            s.add(event(incident.id, "retracted", f"finding {record.rule_id} retracted (block reorged out)",
                        finding_id=record.id, tx_hash=record.tx_hash))
            active = incidents.other_active_findings(s, incident.id, record.dedup_key)
            if not active and incident.status == IncidentStatus.OPEN and not incidents.has_actions(s, incident.id):
                incident.status, incident.resolved_at = IncidentStatus.RESOLVED, utcnow()
                s.add(event(incident.id, "resolved", "every finding was retracted: resolved as a false start"))
            s.add(incident)

    def note(self, incident_id: int | None, kind: str, message: str, **detail: Any) -> None:
        if incident_id is None:
            return
        with self.store.session() as s:
            s.add(event(incident_id, kind, message, **detail))

    def contain(self, incident_id: int | None, message: str, **detail: Any) -> bool:
        """Mark contained (first pause in place); True when the status changed."""
        if incident_id is None:
            return False
        with self.store.session() as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                return False
            s.add(event(incident_id, "contained" if incident.status == IncidentStatus.OPEN else "note", message, **detail))
            if incident.status != IncidentStatus.OPEN:
                return False
            incident.status, incident.contained_at = IncidentStatus.CONTAINED, utcnow()
            s.add(incident)
            return True


def resolve(store: Store, incident_id: int, note: str, root_cause: str = "") -> Incident:
    with store.session() as s:
        incident = incidents.incident(s, incident_id)
        if incident.status != IncidentStatus.RESOLVED:
            incident.status, incident.resolved_at = IncidentStatus.RESOLVED, utcnow()
        if root_cause:
            incident.root_cause = root_cause
        s.add(incident)
        s.add(event(incident_id, "resolved", note or "resolved"))
    store.audit("operator", "incident_resolved", str(incident_id), note=note)
    return incident


def event(incident_id: int | None, kind: str, message: str, **detail: Any) -> IncidentEvent:
    assert incident_id is not None
    return IncidentEvent(incident_id=incident_id, kind=kind, message=message, detail=detail)
