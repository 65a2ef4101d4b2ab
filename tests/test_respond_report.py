"""The post-mortem's timeline is on one clock: on a devnet whose time was warped weeks ahead of the wall clock,
start, detection and containment are block timestamps, in order, and the wall-clock latencies stay apart."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from test_respond_support import PASSWORD, PASSWORD_ENV, attack_finding, config, vault_paused
from watchdog.devnet import Anvil
from watchdog.devnet.cache import world_on_anvil
from watchdog.respond import Responder
from watchdog.respond.incidents import resolve
from watchdog.respond.report import markdown, postmortem
from watchdog.store import Store

WARP = 30 * 24 * 3600  # a month ahead of the wall clock
SLOT = 12  # seconds between blocks, as on mainnet


def at(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def block_time(anvil: Anvil, number: int) -> datetime:
    block = anvil.rpc("eth_getBlockByNumber", [hex(number), False])
    return datetime.fromtimestamp(int(block["timestamp"], 16), timezone.utc)


def test_timeline_of_a_warped_devnet_is_on_the_chain_clock(fresh_anvil: Anvil, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    anvil = fresh_anvil
    world = world_on_anvil(anvil, tmp_path / "world")
    anvil.rpc("evm_setNextBlockTimestamp", [int(time.time()) + WARP])
    anvil.rpc("anvil_setBlockTimestampInterval", [SLOT])
    anvil.mine(1)
    attack_block = anvil.block_number() + 1
    anvil.mine(3)  # the attack's blocks; detection comes two blocks late (a scheduled check at the head)
    assert block_time(anvil, attack_block) > datetime.now(timezone.utc) + timedelta(seconds=WARP - 3600)
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, world, ["pause"]), store, anvil.url, world.manifest)
    (incident,) = responder.handle([attack_finding(world, block=attack_block + 2)], []).incidents
    responder.handle([attack_finding(world, block=attack_block, n=1)], [])  # traced later: the attack's first block
    assert responder.wait(30) and vault_paused(anvil, world)
    resolve(store, incident, "governance reviewed the pause")  # off-chain: placed by the wall-clock time since containment
    responder.close()

    report = postmortem(store, incident)
    t = {k: at(v) for k, v in report["timeline"].items()}
    pause_block = report["actions"][0]["block"]
    assert report["clock"] == "chain"
    assert report["timeline_blocks"] == {"start": attack_block, "detection": attack_block + 2, "mitigation": pause_block}
    assert t["start"] == block_time(anvil, attack_block)
    assert t["detection"] == block_time(anvil, attack_block + 2)
    assert t["mitigation"] == block_time(anvil, pause_block)
    assert t["start"] < t["detection"] < t["mitigation"] <= t["resolution"] < t["mitigation"] + timedelta(seconds=SLOT)
    assert report["time_to_detection_seconds"] == 2 * SLOT
    assert report["time_to_mitigation_seconds"] == (pause_block - attack_block - 2) * SLOT > 0
    # the wall-clock latencies stay on the wall clock, a month away from the chain's
    wall = {k: at(v) for k, v in report["wall_clock"].items()}
    assert abs((wall["detection"] - datetime.now(timezone.utc)).total_seconds()) < 3600
    assert wall["detection"] <= wall["mitigation"] <= wall["resolution"]
    assert 0 <= report["wall_detection_to_mitigation_seconds"] < 3600
    # every line of the timeline on the chain clock too, in order
    events = [at(e["at"]) for e in report["events"]]
    assert events == sorted(events) and events[0] == t["detection"] and t["mitigation"] in events
    assert events[-1] - t["resolution"] <= timedelta(seconds=1)
    text = markdown(report)
    assert f"- Start: {report['timeline']['start']} (block {attack_block})" in text
    assert "Time to detection: 24 s" in text and "chain's clock" in text


def test_a_mempool_detection_is_timed_by_the_head(fresh_anvil: Anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    anvil = fresh_anvil
    world = world_on_anvil(anvil, tmp_path / "world")
    anvil.rpc("evm_setNextBlockTimestamp", [int(time.time()) + WARP])
    anvil.mine(1)
    head = anvil.block_number()
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, world, ["pause"]), store, anvil.url, world.manifest)
    (incident,) = responder.handle([attack_finding(world, block=None, tx_hash="0x" + "ab" * 32, pending=True)], []).incidents
    assert responder.wait(30)
    responder.close()
    report = postmortem(store, incident)
    assert report["clock"] == "chain" and report["timeline_blocks"]["detection"] == head
    assert at(report["timeline"]["detection"]) == block_time(anvil, head)
    assert at(report["timeline"]["start"]) == at(report["timeline"]["detection"])  # no attack block yet
    assert at(report["timeline"]["mitigation"]) == block_time(anvil, report["actions"][0]["block"]) >= block_time(anvil, head)
