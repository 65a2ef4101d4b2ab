"""Post-mortem of an incident (JSON and Markdown), after the security-alliance template: summary, impact,
timeline (start, detection, mitigation, resolution, UTC), root cause, what went well / wrong / lucky,
action items with owner and deadline, time to detection, with every tx hash and address."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable


from watchdog.forensics.rootcause import root_cause
from watchdog.respond import comms
from watchdog.respond.evidence import funds_at_risk
from watchdog.respond.incidents import aware
from watchdog.respond.stages import timeline as stage_timeline
from watchdog.store import BlockRecord, Store, actions, incidents, ledger, proposals
from watchdog.store.responder import ActionStatus, IncidentEvent

PRIORITY = {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4", "info": "P5"}


def iso(value: datetime | None) -> str | None:
    return aware(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class Timeline:
    """Places an incident's moments on one clock. Moments recorded with the chain's clock (`chain_time`:
    a finding's block, a pause's block, the head when a pending attack was seen) keep it; the others
    (notifications, resolution) are placed by the wall-clock time elapsed since the nearest earlier
    on-chain moment. With no on-chain moment at all, everything stays on the wall clock."""

    def __init__(self, events: list[IncidentEvent]) -> None:
        self.events = events
        self.anchors = [(aware(e.at), int(e.detail["chain_time"])) for e in events if chain_time(e) is not None]
        self.name = "chain" if self.anchors else "wall"

    def place(self, wall: datetime, event: IncidentEvent | None = None) -> datetime:
        if event is not None and chain_time(event) is not None:
            return datetime.fromtimestamp(chain_time(event), timezone.utc)  # type: ignore[arg-type]
        if not self.anchors:
            return wall
        earlier = [a for a in self.anchors if a[0] <= wall]
        at, seconds = earlier[-1] if earlier else self.anchors[0]
        return datetime.fromtimestamp(seconds, timezone.utc) + (wall - at)

    def start(self, first_block: int | None, stored: BlockRecord | None) -> datetime | None:
        """The first attack block's timestamp: kept with a finding of that block, or the daemon's block record."""
        if self.name == "wall" or first_block is None:
            return None
        for e in self.events:
            if e.kind == "finding" and e.detail.get("block") == first_block and isinstance(e.detail.get("block_time"), int):
                return datetime.fromtimestamp(e.detail["block_time"], timezone.utc)
        return datetime.fromtimestamp(stored.timestamp, timezone.utc) if stored is not None and stored.timestamp else None

    def lines(self) -> list[datetime]:
        """Every event's moment, never before the one recorded before it (a block's time is its start)."""
        out: list[datetime] = []
        for e in self.events:
            moment = self.place(aware(e.at), e)
            out.append(max(moment, out[-1]) if out else moment)
        return out


def chain_time(event: IncidentEvent) -> int | None:
    value = (event.detail or {}).get("chain_time")
    return value if isinstance(value, int) else None


def block_of(event: IncidentEvent | None) -> int | None:
    return None if event is None else (event.detail or {}).get("chain_block")


def postmortem(store: Store, incident_id: int, forensics: Callable[[list[Any]], list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The post-mortem; `forensics(findings)` (e.g. watchdog.forensics over a node) adds each attack transaction's
    forensics."""
    with store.session() as s:
        incident = incidents.incident(s, incident_id)
        findings = ledger.findings(s, incident_id=incident_id)
        events = incidents.events(s, incident_id)
        taken = actions.actions(s, incident_id)
        proposed = proposals.proposals(s, incident_id)
        first_block = None if incident.first_block is None else ledger.block_record(s, incident.network, incident.first_block)
    clock = Timeline(events)
    opener = next((e for e in events if e.kind == "finding"), None)
    detection = clock.place(aware(opener.at) if opener else aware(incident.first_seen), opener)
    start = clock.start(incident.first_block, first_block) or detection
    contained = next((e for e in events if e.kind == "contained"), None)
    mitigation = clock.place(aware(incident.contained_at), contained) if incident.contained_at else None
    resolution = clock.place(aware(incident.resolved_at)) if incident.resolved_at else None
    first = next((f for f in findings if opener and f.id == opener.detail.get("finding_id")), None)
    wall_detection = aware(first.created_at) if first else aware(opener.at) if opener else aware(incident.first_seen)
    mined = [a for a in taken if a.status == ActionStatus.MINED]
    failed = [a for a in taken if a.status in (ActionStatus.FAILED, ActionStatus.REVERTED)]
    paused = [a.contract or a.target for a in taken if a.status in (ActionStatus.MINED, ActionStatus.ALREADY_PAUSED)]
    at_risk = [x for x in (funds_at_risk(f) for f in findings) if x]
    well, wrong = [], []
    if mined and incident.first_block is not None:
        worst = max(a.block_number or 0 for a in mined) - incident.first_block
        well.append(f"pause mined {worst} block(s) after the first attack block")
    if any(f.pending for f in findings):
        well.append("the attack was seen in the mempool before it landed")
    wrong += [f"{a.kind} of {a.contract or a.target} {a.status}: {a.error or a.tx_hash}" for a in failed]
    if not taken and not proposed:
        wrong.append("no containment action was taken")
    return {
        "incident": incident.id,
        "title": incident.title,
        "status": incident.status,
        "severity": PRIORITY.get(incident.severity, "P3"),
        "severity_label": incident.severity,
        "network": incident.network,
        "protocol": incident.protocol,
        "summary": incident.summary or (f"{len(findings)} finding(s) on {incident.protocol or incident.network}: {incident.title}. "
                                        + (f"Contained by pausing {', '.join(paused)}." if paused else "Not contained by a pause.")),
        "impact": {"funds_at_risk": at_risk, "losses": None, "users": None, "contracts_paused": paused},
        # one clock for the timeline: the chain's (block timestamps) when known, else the wall clock
        "clock": clock.name,
        "timeline": {"start": iso(start), "detection": iso(detection), "mitigation": iso(mitigation), "resolution": iso(resolution)},
        "timeline_blocks": {"start": incident.first_block, "detection": block_of(opener), "mitigation": block_of(contained)},
        "time_to_detection_seconds": max(0.0, (detection - start).total_seconds()),
        "time_to_mitigation_seconds": (mitigation - detection).total_seconds() if mitigation else None,
        # the responder's own clock, for latencies: when it stored the first finding, contained, resolved
        "wall_clock": {"detection": iso(wall_detection), "mitigation": iso(incident.contained_at),
                       "resolution": iso(incident.resolved_at)},
        "wall_detection_to_mitigation_seconds": ((aware(incident.contained_at) - wall_detection).total_seconds()
                                                 if incident.contained_at else None),
        "root_cause": incident.root_cause or (f"from the rules' evidence: {root_cause(findings)}" if findings
                                              else "to be written by the responders"),
        "what_went_well": well,
        "what_went_wrong": wrong,
        "where_we_got_lucky": [],
        "action_items": [{"item": "governance reviews the pause and decides when to lift it", "owner": "governance (Safe owners)",
                          "deadline": None}] + [{"item": f"fix the failed {a.kind} of {a.contract or a.target}", "owner": "operators",
                                                 "deadline": None} for a in failed],
        "findings": [{"rule_id": f.rule_id, "title": f.title, "severity": f.severity, "confidence": f.confidence,
                      "tx_hash": f.tx_hash, "block": f.block_number, "pending": f.pending, "status": f.status,
                      "addresses": f.addresses, "detected_at": iso(f.created_at)} for f in findings],
        "actions": [{"kind": a.kind, "contract": a.contract, "target": a.target, "scope": a.scope, "status": a.status,
                     "tx_hash": a.tx_hash, "block": a.block_number, "error": a.error, "network": a.network} for a in taken],
        "proposals": [{"id": p.id, "safe": p.safe, "nonce": p.nonce, "safe_tx_hash": p.safe_tx_hash, "status": p.status,
                       "exec_tx_hash": p.exec_tx_hash} for p in proposed],
        "tx_hashes": sorted({f.tx_hash for f in findings if f.tx_hash} | {a.tx_hash for a in taken if a.tx_hash}
                            | {p.exec_tx_hash for p in proposed if p.exec_tx_hash}),
        "addresses": sorted({a for f in findings for a in f.addresses}),
        "events": [{"at": iso(moment), "wall_at": iso(e.at), "block": block_of(e), "kind": e.kind, "message": e.message}
                   for e, moment in zip(events, clock.lines())],
        "stages": stage_timeline(findings),
        "recovery": next((e.detail.get("plan") for e in reversed(events) if e.kind == "recovery"), None),
        "stress": next((e.detail["stress"] for e in reversed(events) if e.kind == "stress" and e.detail.get("stress")), None),
        "communications": comms.latest(store, incident_id),
        "forensics": forensics(findings) if forensics is not None else [],
    }


CLOCKS = {
    "chain": "Times are on the chain's clock (block timestamps); steps taken off-chain (notifications, resolution) "
             "are placed by the wall-clock time elapsed since the last on-chain one.",
    "wall": "Times are on the responder's wall clock (no block time was recorded for this incident).",
}


def _block(report: dict[str, Any], moment: str) -> str:
    block = report["timeline_blocks"][moment]
    return f" (block {block})" if block is not None else ""


def markdown(report: dict[str, Any]) -> str:
    t = report["timeline"]
    lines = [
        f"# Post-mortem: incident #{report['incident']} — {report['title']}",
        "",
        f"- **Status:** {report['status']}",
        f"- **Severity:** {report['severity']} ({report['severity_label']})",
        f"- **Network / protocol:** {report['network']} / {report['protocol'] or '-'}",
        "",
        "## Summary", "", report["summary"], "",
        "## Impact", "",
        f"- Funds at risk: {', '.join(map(str, report['impact']['funds_at_risk'])) or 'unknown'}",
        f"- Losses: {report['impact']['losses'] or 'to be assessed'}",
        f"- Users affected: {report['impact']['users'] or 'to be assessed'}",
        f"- Contracts paused: {', '.join(report['impact']['contracts_paused']) or 'none'}",
        "",
        "## Timeline (UTC)", "",
        CLOCKS[report["clock"]], "",
        f"- Start: {t['start']}{_block(report, 'start')}", f"- Detection: {t['detection']}{_block(report, 'detection')}",
        f"- Mitigation: {t['mitigation'] or 'not yet'}{_block(report, 'mitigation')}",
        f"- Resolution: {t['resolution'] or 'not yet'}",
        f"- Time to detection: {report['time_to_detection_seconds']:.0f} s"
        + (f"; time to mitigation: {report['time_to_mitigation_seconds']:.0f} s" if report["time_to_mitigation_seconds"] is not None else ""),
        f"- Responder's wall clock: first finding stored {report['wall_clock']['detection']}"
        + (f", contained {report['wall_clock']['mitigation']} ({report['wall_detection_to_mitigation_seconds']:.1f} s later)"
           if report["wall_detection_to_mitigation_seconds"] is not None else ""),
        "",
    ]
    lines += [f"- {e['at']} `{e['kind']}` {e['message']}" for e in report["events"]]
    if report["stages"]:
        lines += ["", "## Attack stages", "", "| stage | first block | rules | findings |", "|---|---|---|---|"]
        lines += [f"| {x['stage']} | {x['first_block']} | {', '.join(x['rules'])} | {x['findings']} |" for x in report["stages"]]
    lines += ["", "## Root cause", "", report["root_cause"], ""]
    for title, key in (("What went well", "what_went_well"), ("What went wrong", "what_went_wrong"),
                       ("Where we got lucky", "where_we_got_lucky")):
        lines += [f"## {title}", ""] + ([f"- {x}" for x in report[key]] or ["- (to be filled in)"]) + [""]
    lines += ["## Action items", "", "| item | owner | deadline |", "|---|---|---|"]
    lines += [f"| {a['item']} | {a['owner']} | {a['deadline'] or 'to be set'} |" for a in report["action_items"]]
    lines += ["", "## Findings", "", "| severity | rule | tx | block | addresses |", "|---|---|---|---|---|"]
    lines += [f"| {f['severity']} | {f['rule_id']} | `{f['tx_hash']}` | {f['block']} | {', '.join(f'`{a}`' for a in f['addresses'])} |"
              for f in report["findings"]]
    lines += ["", "## Actions", "", "| kind | contract | network | status | tx | block |", "|---|---|---|---|---|---|"]
    lines += [f"| {a['kind']} | {a['contract'] or a['target']} | {a['network']} | {a['status']} | `{a['tx_hash']}` | {a['block']} |"
              for a in report["actions"]]
    if report["proposals"]:
        lines += ["", "## Safe proposals", ""]
        lines += [f"- #{p['id']} Safe `{p['safe']}` nonce {p['nonce']} safeTxHash `{p['safe_tx_hash']}`: {p['status']}"
                  + (f" in `{p['exec_tx_hash']}`" if p["exec_tx_hash"] else "") for p in report["proposals"]]
    if report["forensics"]:
        lines += ["", "## Forensics", ""]
        for item in report["forensics"]:
            lines += item.get("markdown") or [f"- `{item.get('tx')}`: {item.get('error')}"]
    if report["recovery"]:
        lines += ["", "## Recovery", ""] + report["recovery"].get("markdown", [report["recovery"].get("verdict", "")])
    if report.get("stress"):
        lines += ["", "## Stress view", ""] + report["stress"].get("markdown", report["stress"].get("summary", []))
    if report.get("communications"):
        lines += ["", "## Communications", "", "Drafts for review: nothing is published until a person approves it.", ""]
        for kind, version in report["communications"].items():
            lines += [f"### {comms.KINDS[kind]} (v{version['version']}, {version['state']}"
                      + (f", approved by {version['reviewed_by']}" if version["reviewed_by"] else "") + ")", ""]
            lines += ["> " + line if line else ">" for line in version["markdown"].rstrip().splitlines()] + [""]
    return "\n".join(lines) + "\n"
