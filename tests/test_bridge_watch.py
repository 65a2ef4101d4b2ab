"""The bridge world on two anvils followed by one daemon: cross-chain flows judged across networks, a route paused on
both networks (each by its own endpoint's pause, the market through its guardian) under one incident, and honest
traffic left alone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlmodel import select
from test_daemon import wait_for

from fixtures.bridge import nodes, world  # noqa: F401 - the bridge world's fixtures

from watchdog.config import parse_settings
from watchdog.daemon import Daemon
from watchdog.devnet import Anvil
from watchdog.devnet.bridge import BridgeWorld, Relayer, scenarios
from watchdog.devnet.bridge.world import E18
from watchdog.finding import Severity
from watchdog.store import FindingRecord, incidents
from watchdog.store.responder import Incident

KEY_ENV = "WATCHDOG_BRIDGE_TEST_KEY"


class Watching:
    """One daemon over both networks of the bridge world, with the responder as its sink."""

    def __init__(self, world: BridgeWorld, nodes: tuple[Anvil, Anvil], tmp_path: Path) -> None:
        os.environ[KEY_ENV] = world.accounts.responder.key
        self.nodes = dict(zip(("home", "remote"), nodes))
        networks = {name: {"chain_id": node.chain_id, "rpc_urls": [node.url], "ws_url": node.ws_url,
                           "confirmations": 0, "poll_interval": 0.1, "start_block": node.block_number() + 1}
                    for name, node in self.nodes.items()}
        protocols = {f"bridge-{name}": {"network": name, "manifest": str(getattr(world, name).manifest_path)}
                     for name in self.nodes}
        settings = parse_settings({
            "networks": networks, "protocols": protocols, "store": {"url": f"sqlite:///{tmp_path / 'wd.db'}"},
            "metrics": {"enabled": False}, "schedule": {"rules_interval": 3600},
            "playbooks": [{"name": "contain", "when": {"min_severity": "high"},
                           "actions": [{"type": "pause", "targets": ["affected"]}]}],
            "signers": {"responder": {"key_env": KEY_ENV}}}, "test", tmp_path)
        self.daemon = Daemon(settings)
        self.sink = self.daemon.responder_sink()
        self.daemon.add_sink(self.sink)

    def caught_up(self) -> bool:
        return all(self.daemon.networks[name].follower.checkpoint == node.block_number()
                   for name, node in self.nodes.items())

    def settle(self) -> None:
        wait_for(self.caught_up, what="both networks processed")
        assert all(r.wait(30) for r in self.sink.responders.values())

    def findings(self, min_severity: Severity = Severity.INFO) -> list[FindingRecord]:
        with self.daemon.store.session() as s:
            return [f for f in s.exec(select(FindingRecord)) if Severity(f.severity) >= min_severity]


@contextmanager
def watching(world: BridgeWorld, nodes: tuple[Anvil, Anvil], tmp_path: Path) -> Iterator[Watching]:
    watch = Watching(world, nodes, tmp_path)
    watch.sink.start()
    watch.daemon.start()
    try:
        yield watch
    finally:
        watch.sink.close()
        watch.daemon.shutdown()


def paused(world: BridgeWorld) -> dict[str, bool]:
    remote = world.remote
    guardian, market = remote.contract("Guardian"), remote.addresses["BridgedCollateralMarket"]
    return {"BridgeEscrow": world.home.contract("BridgeEscrow").functions.paused().call(),
            "BridgeMinter": remote.contract("BridgeMinter").functions.paused().call(),
            "BridgeMinterV1": remote.contract("BridgeMinterV1").functions.paused().call(),
            "BridgedCollateralMarket": guardian.functions.isPaused(market, b"\0" * 32).call()}


def test_honest_traffic_is_quiet_and_a_forged_mint_pauses_the_route_on_both_networks(world, nodes, tmp_path):
    with watching(world, nodes, tmp_path) as watch:
        outcome = scenarios.benign_traffic(world, deposits=3, withdrawals=2)
        assert outcome.unbacked == 0
        watch.settle()
        assert watch.findings(Severity.MEDIUM) == []
        assert not any(paused(world).values())

        forged = scenarios.forged_mint(world, amount=50_000 * E18)
        wait_for(lambda: paused(world) == {"BridgeEscrow": True, "BridgeMinter": True, "BridgeMinterV1": False,
                                           "BridgedCollateralMarket": True}, what="the route and the market paused")
        watch.settle()
        mint_block = world.remote.w3.eth.get_transaction_receipt(forged.remote_txs[0])["blockNumber"]
        found = watch.findings(Severity.HIGH)
        assert {f.rule_id for f in found} == {"bridge-flows.unmatched", "bridge-flows.supply"}
        assert {f.block_number for f in found} == {mint_block} and {f.network for f in found} == {"remote"}
        with watch.daemon.store.session() as s:
            (incident,) = s.exec(select(Incident)).all()
            timeline = incidents.events(s, incident.id)
        pauses = [e for e in timeline if e.kind == "pause"]
        assert {e.detail["network"] for e in pauses} == {"home", "remote"}
        assert any("BridgeEscrow on home" in e.message for e in pauses)
        assert incident.status == "contained"


def test_a_stuck_relayer_is_overdue_at_the_learned_deadline_and_pauses_the_route(world, nodes, tmp_path):
    relayer = Relayer(world, delay_blocks=2)
    with watching(world, nodes, tmp_path) as watch:
        for amount in (1_000, 2_000, 3_000):  # the route learns its latency from three deliveries
            scenarios.bridge_out(world, "trader1", amount * E18)
            scenarios.relay_until_idle(world, relayer)
        watch.settle()
        relayer.halt()
        scenarios.bridge_out(world, "trader2", 500 * E18)
        for seconds, overdue in ((30, False), (40, True)):  # the learned deadline is the 60 s floor here
            for node in nodes:
                node.rpc("evm_increaseTime", [seconds])
                node.mine()
            watch.settle()
            assert bool(watch.findings(Severity.HIGH)) is overdue
        (finding,) = watch.findings(Severity.HIGH)
        assert finding.rule_id == "bridge-flows.overdue" and finding.evidence["deadline_learned"]
        wait_for(lambda: paused(world)["BridgeEscrow"] and paused(world)["BridgeMinter"], what="the route paused")
        assert paused(world)["BridgedCollateralMarket"] and not paused(world)["BridgeMinterV1"]
