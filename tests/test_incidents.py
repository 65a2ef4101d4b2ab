"""Incidents: grouping per protocol, time window and attacker cluster; retraction; the post-mortem report
(Markdown and JSON, UTC) through `watchdog incidents list|show|report|resolve`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select
from typer.testing import CliRunner

from watchdog.cli import app
from watchdog.finding import Finding, Severity
from watchdog.manifest import Manifest
from watchdog.config.response import ResponseConfig
from watchdog.respond import Responder
from watchdog.store import FindingRecord, Store, utcnow
from watchdog.store.responder import Incident

ATTACKER = "0x" + "a1" * 20
OTHER = "0x" + "b2" * 20
runner = CliRunner()


def finding(n: int, *, protocol: str = "perps", addresses: list[str] | None = None, severity: Severity = Severity.HIGH) -> Finding:
    return Finding(rule_id=f"rule.{n}", title=f"finding {n}", severity=severity, confidence=0.8, network="devnet",
                   protocol=protocol, block_number=1000 + n, tx_hash=f"0x{n:064x}",
                   addresses=addresses if addresses is not None else [ATTACKER], key=str(n))


def responder(tmp_path: Path, window: int = 3600, **config: Any) -> tuple[Responder, str]:
    db = f"sqlite:///{tmp_path / 'wd.db'}"
    settings = ResponseConfig.model_validate({**config, "incidents": {"window_seconds": window, **config.get("incidents", {})}})
    return Responder(settings, Store(db), "http://127.0.0.1:9", Manifest(chain_id=31337, contracts=[])), db


def incident_of(db: str, f: Finding) -> int | None:
    with Store(db).session() as s:
        return s.exec(select(FindingRecord).where(FindingRecord.dedup_key == f.dedup_key)).one().incident_id


def incidents(db: str) -> list[Incident]:
    with Store(db).session() as s:
        return list(s.exec(select(Incident).order_by(Incident.id)).all())


def test_findings_group_by_protocol_window_and_attacker(tmp_path: Path) -> None:
    r, db = responder(tmp_path)
    first = r.handle([finding(1), finding(2, addresses=[OTHER])], []).incidents
    assert first[0] == first[1]  # same protocol, within the window
    other = r.handle([finding(3, protocol="lending", addresses=[OTHER])], []).incidents[0]
    assert other == first[0]  # another protocol, but the same attacker cluster
    separate = r.handle([finding(4, protocol="options", addresses=["0x" + "c3" * 20])], []).incidents[0]
    assert separate != first[0]
    (incident, lone) = incidents(db)
    assert set(incident.addresses) == {ATTACKER, OTHER} and incident.first_block == 1001
    # escalation raises the incident's severity
    r.handle([finding(5, severity=Severity.CRITICAL)], [])
    assert incidents(db)[0].severity == "critical"


def test_a_low_finding_alone_opens_no_incident(tmp_path: Path) -> None:
    r, db = responder(tmp_path)
    arbitrage, keeper = finding(1, severity=Severity.INFO), finding(2, severity=Severity.LOW)
    assert r.handle([arbitrage, keeper], []).incidents == []
    assert incidents(db) == []
    assert incident_of(db, arbitrage) is None and incident_of(db, keeper) is None  # stored, without an incident


def test_the_attack_opens_its_own_incident_after_benign_findings(tmp_path: Path) -> None:
    r, db = responder(tmp_path)
    r.handle([finding(1, severity=Severity.INFO)], [])  # a flash-swap arbitrage just before, same protocol
    (opened,) = r.handle([finding(5, severity=Severity.CRITICAL)], []).incidents
    (incident,) = incidents(db)
    assert incident.id == opened and incident.first_block == 1005 and incident.severity == "critical"
    # later context joins the open incident, but a block before the attack does not move its start
    late, earlier = finding(6, severity=Severity.LOW), finding(0, severity=Severity.INFO)
    assert r.handle([late, earlier], []).incidents == [opened, opened]
    assert incident_of(db, late) == opened and incidents(db)[0].first_block == 1005
    # context of another protocol and another cluster stays outside
    elsewhere = finding(7, protocol="options", addresses=[OTHER], severity=Severity.LOW)
    assert r.handle([elsewhere], []).incidents == [] and incident_of(db, elsewhere) is None


def test_the_opening_severity_is_configurable(tmp_path: Path) -> None:
    r, db = responder(tmp_path, incidents={"open_min_severity": "high"})
    assert r.handle([finding(1, severity=Severity.MEDIUM)], []).incidents == []
    assert len(r.handle([finding(2, severity=Severity.HIGH)], []).incidents) == 1
    strict = ResponseConfig.model_validate({"incidents": {"open_min_severity": "info"}})
    assert strict.incidents.open_min_severity == Severity.INFO


def test_a_playbook_acting_on_a_low_finding_opens_its_incident(tmp_path: Path) -> None:
    watch = {"name": "watch-keepers", "when": {"rules": ["rule.3"], "min_severity": "low"},
             "actions": [{"type": "notify", "dry_run": True}]}
    r, db = responder(tmp_path, playbooks=[watch])
    result = r.handle([finding(2, severity=Severity.LOW), finding(3, severity=Severity.LOW)], [])
    (incident,) = incidents(db)
    assert result.incidents == [incident.id] and incident.first_block == 1003 and result.dry_run


def test_a_finding_after_the_window_opens_a_new_incident(tmp_path: Path) -> None:
    r, db = responder(tmp_path, window=60)
    old = r.handle([finding(1)], []).incidents[0]
    with Store(db).session() as s:
        row = s.get(Incident, old)
        row.last_seen = utcnow() - timedelta(seconds=120)
        s.add(row)
    assert r.handle([finding(2)], []).incidents[0] != old


def test_retracting_every_finding_resolves_an_untouched_incident(tmp_path: Path) -> None:
    r, db = responder(tmp_path)
    f = finding(1)
    r.handle([f], [])
    r.handle([], [f])
    (incident,) = incidents(db)
    assert incident.status == "resolved"
    with Store(db).session() as s:
        assert s.exec(select(FindingRecord)).one().status == "retracted"


def test_incident_commands_list_show_report_resolve(tmp_path: Path) -> None:
    r, db = responder(tmp_path)
    r.handle([finding(1, severity=Severity.CRITICAL), finding(2)], [])
    out = runner.invoke(app, ["incidents", "list", "--store", db, "--json"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)
    assert len(listed) == 1 and listed[0]["status"] == "open" and listed[0]["first_seen"].endswith("Z")
    out = runner.invoke(app, ["incidents", "show", "1", "--store", db])
    assert out.exit_code == 0 and "rule.1" in out.output and "timeline (UTC)" in out.output and f"0x{1:064x}" in out.output

    out = runner.invoke(app, ["incidents", "resolve", "1", "--store", db, "--note", "governance unpaused after the fix",
                              "--root-cause", "spot price used as the oracle"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["incidents", "report", "1", "--store", db, "--format", "json"])
    report = json.loads(out.output)
    for key in ("summary", "impact", "timeline", "root_cause", "what_went_well", "what_went_wrong", "where_we_got_lucky",
                "action_items", "time_to_detection_seconds", "tx_hashes", "addresses", "findings", "events"):
        assert key in report, key
    assert report["severity"] == "P1" and report["status"] == "resolved"
    assert report["root_cause"] == "spot price used as the oracle"
    assert set(report["timeline"]) == {"start", "detection", "mitigation", "resolution"}
    assert report["timeline"]["resolution"].endswith("Z") and report["timeline"]["mitigation"] is None
    assert f"0x{1:064x}" in report["tx_hashes"] and ATTACKER in report["addresses"]
    assert all({"item", "owner", "deadline"} <= set(a) for a in report["action_items"])
    md_path = tmp_path / "pm.md"
    out = runner.invoke(app, ["incidents", "report", "1", "--store", db, "--out", str(md_path)])
    text = md_path.read_text()
    for heading in ("# Post-mortem: incident #1", "## Summary", "## Impact", "## Timeline (UTC)", "## Root cause",
                    "## What went well", "## What went wrong", "## Action items", "## Findings"):
        assert heading in text
    assert f"`0x{1:064x}`" in text


def test_report_of_an_unknown_incident_is_one_clear_error(tmp_path: Path) -> None:
    _, db = responder(tmp_path)
    out = runner.invoke(app, ["incidents", "report", "7", "--store", db])
    assert out.exit_code == 2 and "no incident 7" in out.output


def test_commands_take_the_store_from_the_config(tmp_path: Path) -> None:
    r, _ = responder(tmp_path)
    r.handle([finding(1)], [])
    (tmp_path / "watchdog.toml").write_text('[networks.devnet]\nchain_id = 31337\nrpc_urls = ["http://127.0.0.1:9"]\n'
                                            '[store]\nurl = "sqlite:///wd.db"\n')
    out = runner.invoke(app, ["incidents", "list", "-c", str(tmp_path / "watchdog.toml"), "--json"])
    assert out.exit_code == 0, out.output
    assert [i["id"] for i in json.loads(out.output)] == [1]
