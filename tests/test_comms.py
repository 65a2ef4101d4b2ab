"""An incident's stress view and its communications. After a real flash-loan attack on the demo world (the responder
proposes the pause to the Safe), the view is played on a fork: pausing keeps the vault's funds out of reach and
freezes the five open positions; the view joins the timeline, the evidence and the Safe proposal. The three messages
name the affected contracts, the paused scope and the attacker's addresses, are versioned when something changes,
and are sent only once approved, only through the internal notifiers. A drill's report carries both."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.http import JsonHandler, serve
from fixtures.incident import record_attack
from test_respond_support import PASSWORD, PASSWORD_ENV
from test_stress import open_positions

from watchdog.config import parse_settings
from watchdog.config.response import CommunicationsConfig, NotifierConfig
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.drill import DrillOptions, run_drill
from watchdog.errors import ConfigError, WatchdogError
from watchdog.respond import comms
from watchdog.respond.evidence import incident_evidence
from watchdog.respond.notify import Notifications
from watchdog.scenarios.demo.attacks import FLASH_LOAN_SPOT
from watchdog.store import Store, incidents, proposals
from watchdog.store.responder import Action, ActionStatus, Incident
from watchdog.stress.incident import IncidentViews

WATCHDOG = Path(sys.executable).parent / "watchdog"
CONTACTS = CommunicationsConfig(protocol_name="Demo Perps", security_contact="security@demo.example",
                                bug_bounty="https://bounty.demo.example", safe_harbor="https://safeharbor.demo.example",
                                status_channels=["status.demo.example"], exchanges=["listings@exchange.example"],
                                security_groups=["responders@alliance.example"], notifiers=["team"])


@pytest.fixture(autouse=True)
def responder_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


class Inbox(JsonHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        Inbox.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self._answer(200, {"ok": True})


@pytest.fixture
def inbox() -> Iterator[str]:
    Inbox.received = []
    with serve(Inbox) as url:
        yield url


def test_an_incident_gets_its_stress_view_and_three_reviewed_communications(anvil: Anvil, world: World, tmp_path: Path,
                                                                              inbox: str) -> None:
    traders = open_positions(world)
    rec = record_attack(anvil, world, tmp_path, FLASH_LOAN_SPOT, ["propose"], rounds=1)
    store = Store(rec.store_url)
    vault, market = (world.addresses[n].lower() for n in ("CollateralVault", "PerpMarket"))
    with store.session() as s:
        incident = s.get(Incident, rec.incident_id)
        proposed = proposals.proposals(s, rec.incident_id)
    assert {p.contract for p in proposed} == {"CollateralVault", "PerpMarket"}  # one Safe proposal per pause
    attacker = world.accounts.attacker.address.lower()
    assert attacker in incident.addresses

    views = IncidentViews(store, {"default": anvil.url}, {"default": world.manifest}, CONTACTS)
    try:
        view = views.view(rec.incident_id)
    finally:
        views.close()

    # the view: pausing the affected contracts keeps what they hold out of reach and freezes every open position
    assert view is not None and [s["kind"] for s in view["scenarios"]] == ["pause"]  # the price was put back in-tx
    assert set(view["pausing_saves"]["holders"]) == {"CollateralVault", "PerpMarket"} and view["pausing_saves"]["value"] > 1_000_000
    assert view["pausing_costs"]["accounts"] == len(traders) and view["pausing_costs"]["equity"] > 0
    assert view["attackers"] == sorted(incident.addresses)
    with store.session() as s:
        assert [e.kind for e in incidents.events(s, rec.incident_id, kind="stress")] == ["stress"]
        assert [p.evidence["stress"]["pausing_costs"]["accounts"] for p in proposals.proposals(s, rec.incident_id)] == [len(traders)] * 2
    assert incident_evidence(store, incident)["stress"]["pausing_saves"] == view["pausing_saves"]  # later proposals too

    # the three messages, drafted with the traces: v1 of each, to be reviewed
    drafts = comms.latest(store, rec.incident_id)
    assert {k: (v["version"], v["state"]) for k, v in drafts.items()} == {k: (1, "draft") for k in comms.KINDS}
    status, notice, packet = (drafts[k]["json"] for k in ("status", "exchanges", "security"))
    assert set(status["affected"]) == {"CollateralVault", "PerpMarket"} and status["paused"] == []
    assert "Nothing is paused at this time." in drafts["status"]["markdown"]
    assert {c["address"] for c in notice["affected_contracts"]} == {vault, market}
    assert world.addresses["dUSD"].lower() in notice["halt_deposits_of"] and attacker in notice["flag_addresses"]
    assert notice["to"] == ["listings@exchange.example"] and notice["contact"] == "security@demo.example"
    assert rec.attack_txs()[0] in {t["tx"] for t in packet["transactions"]}
    assert set(packet["attackers"]) >= set(incident.addresses) and packet["traces"][0]["calls"]
    assert packet["fund_destinations"][0]["attacker"] and packet["fund_destinations"][0]["value"] > 0
    assert packet["contacts"] == {"security": "security@demo.example", "bug_bounty": "https://bounty.demo.example",
                                  "safe_harbor": "https://safeharbor.demo.example"}
    assert "https://safeharbor.demo.example" in drafts["security"]["markdown"]

    # nothing changed: no new version; the pause lands: the status and the notices get a new one
    assert comms.draft(store, rec.incident_id, CONTACTS, None)["exchanges"]["version"] == 1
    with store.session() as s:
        s.add(Action(network="default", kind="pause", target=market, scope="0x" + "ab" * 32, contract="PerpMarket",
                     status=ActionStatus.MINED, incident_id=rec.incident_id, tx_hash="0x" + "01" * 32, block_number=99))
    again = comms.draft(store, rec.incident_id, CONTACTS)
    assert again["status"]["version"] == 2 and again["status"]["json"]["paused"] == ["PerpMarket (scope 0xabab…abab)"]
    assert again["exchanges"]["json"]["paused"][0]["scope"] == "0x" + "ab" * 32
    assert len(comms.history(store, rec.incident_id)["status"]) == 2

    # reviewed before sending, and only through the internal notifiers
    notifications = Notifications(store, [NotifierConfig(name="team", type="webhook", url=f"{inbox}/team", max_attempts=1),
                                           NotifierConfig(name="public", type="webhook", url=f"{inbox}/public", max_attempts=1)])
    try:
        with pytest.raises(WatchdogError, match="is not reviewed: approve it first"):
            comms.send(store, rec.incident_id, "status", CONTACTS, notifications)
        comms.approve(store, rec.incident_id, "status", 2, "alice")
        with pytest.raises(WatchdogError, match="communications go only through the notifiers"):
            comms.send(store, rec.incident_id, "status", CONTACTS, notifications, ["public"])
        assert comms.send(store, rec.incident_id, "status", CONTACTS, notifications) == ["team"]
    finally:
        notifications.close()
    (body,) = Inbox.received
    assert body["type"] == "incident.communication" and "PerpMarket (scope 0xabab…abab)" in body["text"]
    latest = comms.latest(store, rec.incident_id)["status"]
    assert (latest["state"], latest["reviewed_by"], latest["sent_to"]) == ("sent", "alice", ["team"])

    # the command line: print one as JSON, approve another
    shown = subprocess.run([str(WATCHDOG), "incidents", "comms", str(rec.incident_id), "--store", rec.store_url,
                            "--kind", "exchanges", "--format", "json"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["exchanges"]["json"]["flag_addresses"] == notice["flag_addresses"]
    approved = subprocess.run([str(WATCHDOG), "incidents", "comms", str(rec.incident_id), "--store", rec.store_url,
                               "--approve", "security", "--version", "1"], capture_output=True, text=True, timeout=60)
    assert approved.returncode == 2 and "--approve needs --version N and --by NAME" in approved.stderr
    again = subprocess.run([str(WATCHDOG), "incidents", "stress", str(rec.incident_id), "--store", rec.store_url,
                            "--rpc", anvil.url, "--manifest", str(world.manifest_path), "--json"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["pausing_costs"]["accounts"] == len(traders)
    with store.session() as s:
        assert len(incidents.events(s, rec.incident_id, kind="stress")) == 2  # played again, kept beside the first


def test_a_drill_report_carries_the_stress_view_and_the_communications(tmp_path: Path) -> None:
    result = run_drill("flash-loan-spot", DrillOptions(out_dir=tmp_path, block_time=0.2, traffic_rounds=0))
    report = json.loads(Path(result["report"]["json"]).read_text())
    store = Store(f"sqlite:///{tmp_path / 'flash-loan-spot' / 'watchdog.db'}")
    with store.session() as s:
        (incident,) = incidents.incidents(s)
    stress = report["stress"]
    assert stress["pausing_saves"]["value"] > 1_000_000 and stress["summary"]
    assert {s["kind"] for s in stress["scenarios"]} == {"pause"}
    messages = report["communications"]
    assert set(messages) == set(comms.KINDS)
    paused = {p["contract"] for p in report["drill"]["pauses"]}
    assert paused == {"CollateralVault", "PerpMarket"}
    assert {p.split(" (")[0] for p in messages["status"]["json"]["paused"]} == paused
    assert {c["name"] for c in messages["exchanges"]["json"]["affected_contracts"]} == paused
    assert {p["contract"] for p in messages["exchanges"]["json"]["paused"]} == paused
    assert set(messages["security"]["json"]["attackers"]) >= set(incident.addresses) and incident.addresses
    assert set(messages["exchanges"]["json"]["flag_addresses"]) == set(messages["security"]["json"]["attackers"])
    assert {t["tx"] for t in messages["security"]["json"]["transactions"]} == {
        f["tx_hash"] for f in report["postmortem"]["findings"] if f["tx_hash"]}
    markdown = Path(result["report"]["markdown"]).read_text()
    assert "## Stress view" in markdown and "## Communications" in markdown and "security-response packet (v1" in markdown


def test_the_communications_section_is_validated() -> None:
    base = {"networks": {"main": {"chain_id": 1, "rpc_urls": ["http://127.0.0.1:8545"]}}}
    settings = parse_settings({**base, "communications": {"security_contact": "security@proto.example",
                                                          "bug_bounty": "https://bounty.example"}})
    assert settings.communications.security_contact == "security@proto.example"
    assert settings.responder.stress.on_incident
    for section, key in (({"security_contact": "call us"}, "communications.security_contact"),
                         ({"bug_bounty": "bounty.example"}, "communications.bug_bounty"),
                         ({"status_channels": [" "]}, "communications.status_channels"),
                         ({"notifiers": ["team"]}, "communications.notifiers.0")):
        with pytest.raises(ConfigError) as caught:
            parse_settings({**base, "communications": section})
        assert key in str(caught.value) and len(str(caught.value).splitlines()) == 1, str(caught.value)
