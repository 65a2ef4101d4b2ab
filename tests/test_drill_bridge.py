"""Drills on the two-network bridge world: two anvils, one watchdog following both, a block clock on each chain. The
forged mint is found in the block of the mint and the route is paused on both networks within a block on each; an
honest day with a slow relayer pauses nothing. (The other bridge attacks are played in test_scenarios_bridge.py and
judged in test_rule_bridge_flows_unit.py and test_bridge_watch.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from watchdog.drill import DrillOptions, run_drill
from watchdog.drill.measure import ChainClock, Pause, Recording, measure
from watchdog.drill.watch import Seen
from watchdog.finding import Severity
from watchdog.scenarios import Step

pytestmark = pytest.mark.timeout(600)

CHEAP = {"block_time": 0.2, "traffic_rounds": 0, "world": "bridge"}


@pytest.fixture(scope="module")
def drills(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bridge-drills")
    return {name: run_drill(name, DrillOptions(out_dir=out, **CHEAP)) for name in ("forged-mint", "benign-bridge")}


def test_a_forged_mint_is_found_in_its_block_and_the_route_paused_on_both_networks(drills) -> None:
    r = drills["forged-mint"]
    mint = r["attack_txs"][0]
    assert r["detected"] and r["first_rule"].startswith("bridge-flows.") and r["detect_block"] == mint["block"]
    assert mint["network"] == "remote" and mint["succeeded"]
    assert r["paused_networks"] == ["home", "remote"]
    assert {n: p["blocks_after_detection"] <= 1 for n, p in r["pauses_by_network"].items()} == {"home": True, "remote": True}
    assert {p["contract"] for p in r["pauses"]} == {"BridgeEscrow", "BridgeMinter", "BridgedCollateralMarket"}
    assert r["contained"] and r["funds_lost"] == 0 and r["false_pauses"] == 0
    document = json.loads(Path(r["report"]["json"]).read_text())
    assert document["drill"]["paused_networks"] == ["home", "remote"]
    assert {a["network"] for a in document["postmortem"]["actions"]} == {"home", "remote"}  # one incident, both chains


def test_an_honest_day_with_a_slow_relayer_pauses_nothing(drills) -> None:
    r = drills["benign-bridge"]
    assert r["paused_networks"] == [] and r["false_pauses"] == 0 and r["high_findings"] == 0


def test_containment_is_measured_on_each_network() -> None:
    mint = Step("mint", "attacker", "0xa1", sent_at=10.0, block=20, index=0, mined_at=11.0, succeeded=True, payoff=True,
                network="remote")
    release = Step("release", "attacker", "0xa2", sent_at=12.0, block=8, index=0, mined_at=13.0, succeeded=False,
                   payoff=True, network="home")
    borrow = Step("borrow", "attacker", "0xa3", sent_at=12.0, block=22, index=1, mined_at=13.0, succeeded=True,
                  payoff=True, network="remote")
    found = Seen(11.1, "bridge-flows.unmatched", "t", Severity.CRITICAL, 20, "0xa1", False, "k", "remote")
    clocks = {"home": ChainClock(5, {6: 9.0, 7: 12.5, 8: 13.0}), "remote": ChainClock(19, {20: 11.0, 21: 12.0, 22: 13.0})}
    rec = Recording("x", benign=False, respond=True, phase_start=9.5, phase_block=5, steps=[mint, release, borrow],
                    findings=[found], pauses=[Pause("BridgeEscrow", "0xp1", 7, 0, network="home"),
                                              Pause("BridgeMinter", "0xp2", 21, 0, network="remote")], chains=clocks)
    r = measure(rec)
    assert r["paused_networks"] == ["home", "remote"] and r["blocks_to_contain"] == 1  # on the mint's network
    assert r["pauses_by_network"]["home"]["blocks_after_detection"] == 1  # home's head was 6 at detection
    assert r["contained"] is False  # the borrow on remote went through after remote's pause
    borrow.succeeded = False
    assert measure(rec)["contained"] is True
