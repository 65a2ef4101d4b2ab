"""The drill's incident report, Markdown and JSON: the drill's measurements on top of the responder's
post-mortem of the incident the attack opened (watchdog.respond.report)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


from watchdog.finding import Severity
from watchdog.drill.measure import PAUSE_LEVEL, Recording, detection_rows, shown
from watchdog.forensics import of_findings
from watchdog.manifest import Manifest
from watchdog.recovery import recover
from watchdog.respond.comms import Contacts, draft
from watchdog.respond.report import markdown, postmortem
from watchdog.scenarios import Scenario
from watchdog.store import Store, ledger
from watchdog.store.responder import Incident
from watchdog.stress.incident import incident_view, record, viewed


def _incident(store: Store, recording: Recording) -> int | None:
    """The incident of the first finding at pause level during the attack (else the most severe one seen)."""
    attack = sorted((f for f in recording.findings if f.severity >= PAUSE_LEVEL and f.at >= recording.phase_start),
                    key=lambda f: f.at)
    keys = [f.dedup_key for f in attack or sorted(recording.findings, key=lambda f: (-f.severity.rank, f.at))]
    with store.session() as s:
        for key in keys:
            row = ledger.finding_by_key(s, key)
            if row is not None and row.incident_id is not None:
                return row.incident_id
    return None


def sections(store_url: str, rpc_urls: Mapping[str, str], manifests: Mapping[str, Manifest],
             recording: Recording, contacts: Contacts | None = None) -> dict[str, Any]:
    """While the drill's chains still run: the forensics of the attack transactions and the recovery plan of the
    incident (its checks, and the attack replayed on a fork with the pause lifted), on the incident's network; its
    stress view (played when it opened, else now) and its communications drafted as the drill ends."""
    store = Store(store_url)
    try:
        incident = _incident(store, recording)
        if incident is None:
            return {"forensics": [], "recovery": None}
        with store.session() as s:
            network = s.get(Incident, incident).network  # type: ignore[union-attr]
            findings = [f for f in ledger.findings(s, incident_id=incident) if f.network == network]
        rpc_url, manifest = rpc_urls[network], manifests[network]
        forensics = of_findings(rpc_url, manifest)(findings)
        if not viewed(store, incident):
            record(store, incident, incident_view(store, incident, rpc_url, manifest))
        draft(store, incident, contacts or Contacts(), forensics)
        return {"forensics": forensics, "recovery": recover(store, incident, rpc_url, manifest)}
    finally:
        store.close()


def write_report(out: Path, scenario: Scenario, result: dict[str, Any], store_url: str,
                 recording: Recording, extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    store = Store(store_url)
    extra = extra or {"forensics": [], "recovery": None}
    try:
        incident = _incident(store, recording)
        report = postmortem(store, incident) if incident is not None else None
    finally:
        store.close()
    if report is not None:
        report["forensics"] = extra["forensics"]
        report["impact"]["losses"] = f"{result['funds_lost']:,.2f} {result['unit']} (drill measurement)"
    document = {"drill": result, "scenario": {"name": scenario.name, "title": scenario.title, "summary": scenario.summary},
                "timeline": [_step(s) for s in recording.steps], "postmortem": report,
                "forensics": extra["forensics"], "recovery": extra["recovery"],
                "stress": report["stress"] if report else None,
                "communications": report["communications"] if report else {}}
    json_path, md_path = out / "report.json", out / "report.md"
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    md_path.write_text(_markdown(scenario, result, recording) + ("\n" + markdown(report) if report else ""))
    return md_path, json_path


def _step(step: Any) -> dict[str, Any]:
    return {**step.as_dict(), "sent_at": step.sent_at, "mined_at": step.mined_at}


def _markdown(scenario: Scenario, r: dict[str, Any], recording: Recording) -> str:
    lines = [f"# Drill: {scenario.name} — {scenario.title}", "", scenario.summary, "",
             f"Response mode: {'pause, each contract as its manifest says' if r['response'] else 'detection only (pauses dry-run)'}.", "",
             "## Measurements", "", "| measure | value |", "|---|---|"]
    rows = [
        *detection_rows(r),
        ("paused", shown(r["paused"])),
        ("paused networks", ", ".join(r["paused_networks"]) or "none"),
        ("pause block", r["pause_block"]),
        ("blocks to contain", r["blocks_to_contain"]),
        ("pre-empted (pause landed before the attack)", shown(r["preempted"])),
        ("contained", shown(r["contained"]) if not r["benign"] else None),
        ("attack succeeded", shown(r["attack_succeeded"])),
        ("funds at risk", f"{r['funds_at_risk']:,.2f} {r['unit']}"),
        ("funds lost", f"{r['funds_lost']:,.2f} {r['unit']}"),
        ("funds saved", f"{r['funds_saved']:,.2f} {r['unit']}"),
        ("false pauses", r["false_pauses"]),
        ("critical findings", r["critical_findings"]),
    ]
    lines += [f"| {name} | {shown(value)} |" for name, value in rows]
    lines += ["", "## Attack timeline", "", "| step | actor | block | tx | result |", "|---|---|---|---|---|"]
    several = len({s.network for s in recording.steps} | {p["network"] for p in r["pauses"]}) > 1

    def block(number: Any, network: str) -> str:  # on a world of several networks, blocks name their chain
        return f"{number} ({network})" if several else str(number)

    for step in recording.steps:
        result = "time passed" if step.tx_hash is None else ("succeeded" if step.succeeded else "reverted")
        lines.append(f"| {step.name} | {step.actor} | {block(step.block, step.network)} | `{step.tx_hash or '-'}` | {result} |")
    for pause in r["pauses"]:
        lines.append(f"| pause of {pause['contract']} | watchdog responder | {block(pause['block'], pause['network'])} | "
                     f"`{pause['tx']}` | succeeded |")
    if r["would_pause"]:
        lines += ["", "## What the responder would have done", ""] + [f"- {m}" for m in r["would_pause"]]
    findings = sorted(recording.findings, key=lambda f: f.at)
    lines += ["", "## Findings as they were delivered", "", "| phase | severity | rule | block | pending | title |",
              "|---|---|---|---|---|---|"]
    for f in findings:
        phase = "attack" if f.at >= recording.phase_start else "traffic"
        if f.severity >= Severity.MEDIUM or phase == "attack":
            lines.append(f"| {phase} | {f.severity.value} | {f.rule_id} | {f.block} | {shown(f.pending)} | {f.title} |")
    quiet = sum(1 for f in findings if f.severity < Severity.MEDIUM and f.at < recording.phase_start)
    if quiet:
        lines += ["", f"Not listed: {quiet} informational or low finding(s) during the benign traffic."]
    return "\n".join(lines) + "\n"
