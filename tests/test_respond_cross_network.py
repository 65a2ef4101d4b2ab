"""One incident for a cross-chain route across networks, and a finding's contracts on another network handed to
that network's responder (the real pauses on two anvils are in test_bridge_watch.py)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from watchdog.chain.rpc import RpcClient
from watchdog.config.response import ResponseConfig
from watchdog.finding import Finding, Severity
from watchdog.manifest import Manifest
from watchdog.respond import Responder
from watchdog.respond.rpc import Rpc
from watchdog.respond.sink import ResponderSink
from watchdog.store import FindingRecord, Store, incidents, ledger
from watchdog.store.responder import Incident

HOME, REMOTE = 31337, 31338
ESCROW, MINTER, OTHER = "0x" + "e5" * 20, "0x" + "b1" * 20, "0x" + "0f" * 20
ROUTE = f"{HOME}:{ESCROW}|{REMOTE}:{MINTER}"
DEAD_NODE = "http://127.0.0.1:9"  # no node: the responders can only preview (dry run) what they would pause


def manifest(chain_id: int, *contracts: tuple[str, str]) -> Manifest:
    return Manifest.model_validate({"chain_id": chain_id, "contracts": [
        {"name": name, "address": address, "role": "other", "abi": [], "pause": {"via": "self"}}
        for name, address in contracts]})


def responders(tmp_path: Path, **config: object) -> tuple[ResponderSink, Store]:
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    settings = ResponseConfig.model_validate(config)
    return ResponderSink({
        "home": Responder(settings, store, dead(), manifest(HOME, ("BridgeEscrow", ESCROW)), network="home"),
        "remote": Responder(settings, store, dead(), manifest(REMOTE, ("BridgeMinter", MINTER)), network="remote"),
    }), store


def dead() -> Rpc:
    return Rpc(RpcClient(DEAD_NODE, retries=0, timeout=1.0))


def finding(network: str, n: int, *, routes: list[str], protocol: str, targets: dict | None = None) -> Finding:
    labels: dict = {"routes": routes}
    if targets:
        labels["targets"] = targets
    return Finding(rule_id=f"bridge-flows.check{n}", title=f"finding {n}", severity=Severity.HIGH, confidence=0.9,
                   network=network, protocol=protocol, block_number=100 + n, tx_hash=f"0x{n:064x}",
                   addresses=[MINTER if network == "remote" else ESCROW], labels=labels, key=str(n))


def stored(store: Store) -> tuple[list[Incident], dict[str, int | None]]:
    with store.session() as s:
        return list(s.exec(select(Incident))), {f.rule_id: f.incident_id for f in s.exec(select(FindingRecord))}


def test_findings_of_one_route_share_an_incident_across_networks(tmp_path: Path) -> None:
    sink, store = responders(tmp_path)
    sink.responders["remote"].handle([finding("remote", 1, routes=[ROUTE], protocol="bridge-remote")])
    sink.responders["home"].handle([finding("home", 2, routes=[ROUTE], protocol="bridge-home")])
    sink.responders["home"].handle([finding("home", 3, routes=[f"{HOME}:{ESCROW}|{REMOTE}:{OTHER}"],
                                            protocol="another-bridge")])
    opened, by_rule = stored(store)
    assert len(opened) == 2 and by_rule["bridge-flows.check1"] == by_rule["bridge-flows.check2"]
    assert by_rule["bridge-flows.check3"] != by_rule["bridge-flows.check1"]  # another route, another incident


def test_contracts_a_finding_names_on_another_network_are_paused_there_in_its_incident(tmp_path: Path) -> None:
    sink, store = responders(tmp_path, playbooks=[{"name": "contain", "when": {"min_severity": "high"}, "dry_run": True,
                                                   "actions": [{"type": "pause", "targets": ["affected"]}]}])
    forged = finding("remote", 1, routes=[ROUTE], protocol="bridge-remote", targets={str(HOME): [ESCROW]})
    with store.session() as s:  # stored as the daemon stores it, then delivered to the sink
        (record,) = ledger.store_findings(s, [forged])
    sink([record], [])
    (incident,), _ = stored(store)
    with store.session() as s:
        previews = {e.detail["to"]: e.message for e in incidents.events(s, incident.id) if e.kind == "dry_run"}
    # each network's responder previews its own contract's pause, in the incident the remote finding opened
    assert set(previews) == {ESCROW, MINTER}
    assert "BridgeEscrow" in previews[ESCROW] and "BridgeMinter" in previews[MINTER]
