"""oracle-health on a real anvil: crash, non-positive answer, incomplete round, staleness on the schedule and a
divergence from the same feed on another chain are flagged; an honest 12 % move stays below the pause threshold."""

from __future__ import annotations

import pytest

from fixtures.detect.kit import E, USD, by_rule, deploy_feed, follow, lending_world, schedule  # noqa: F401

from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.detect import PAUSE_SEVERITY, Engine, Severity
from watchdog.manifest import load_manifest
from watchdog.store import Store


@pytest.fixture
def world(lending_world):
    return lending_world


def check_of(record) -> str:
    """The check of an oracle-health finding, with the source for a divergence (`divergence:Pool`)."""
    check = record.rule_id.removeprefix("oracle-health.")
    return f"{check}:{record.evidence['reference']}" if check == "divergence" else check


def checks(records) -> dict[str, str]:
    return {check_of(r): r.severity for r in by_rule(records, "oracle-health")}


def test_honest_twelve_percent_move_stays_below_pause(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.feed, "updateAnswer(int256)", 2240 * USD)
    records = follow(world, tmp_path, first)
    assert checks(records) == {"move": "low", "divergence:Pool": "medium"}
    assert all(Severity(r.severity) < PAUSE_SEVERITY for r in records)


def test_crash_is_a_jump_and_a_divergence(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.feed, "updateAnswer(int256)", 1000 * USD)
    found = checks(follow(world, tmp_path, first))
    assert found == {"jump": "high", "divergence:Pool": "high"}


def test_non_positive_answer_is_critical(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.feed, "updateAnswer(int256)", 0)
    assert checks(follow(world, tmp_path, first)) == {"non-positive": "critical"}


def test_answered_in_an_older_round(world, anvil, tmp_path):
    first = world.head() + 1
    now = int(anvil.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    world.send(world.feed, "setRound(uint80,int256,uint256,uint80)", 7, 2000 * USD, now, 6)
    assert checks(follow(world, tmp_path, first)) == {"incomplete-round": "high"}


def test_staleness_is_a_scheduled_check(world, anvil, tmp_path):
    assert schedule(world, tmp_path / "fresh") == []  # just updated: healthy
    anvil.rpc("evm_increaseTime", [4000])             # heartbeat 3600 s, plus 10 % grace
    anvil.mine(1)
    found = schedule(world, tmp_path / "late")
    assert [(f.rule_id, f.severity) for f in found] == [("oracle-health.stale", Severity.HIGH)]
    assert found[0].evidence["age"] >= 4000 and found[0].block_number == world.head()


def test_stale_check_has_a_cooldown(world, anvil, tmp_path):
    anvil.rpc("evm_increaseTime", [4000])
    anvil.mine(1)
    engine = Engine("devnet", load_manifest(world.manifest(tmp_path)), Store(f"sqlite:///{tmp_path / 'w.db'}"))
    reader = lambda: BlockReader(RpcClient(world.node.url), "devnet")  # noqa: E731
    assert len(engine.on_schedule(reader())) == 1
    anvil.mine(1)
    assert engine.on_schedule(reader()) == []          # same check, same feed, within 600 s
    anvil.rpc("evm_increaseTime", [700])
    anvil.mine(1)
    assert len(engine.on_schedule(reader())) == 1


def test_divergence_from_the_same_feed_on_another_network(world, anvil, tmp_path, fresh_anvil):
    remote = deploy_feed(fresh_anvil, 1500 * USD)
    params = {"oracle-health": {"remote_feeds": {"EthFeed": {"rpc": fresh_anvil.url, "address": remote}}}}
    found = schedule(world, tmp_path, rules=params)
    assert len(found) == 1 and found[0].rule_id == "oracle-health.divergence"
    assert found[0].evidence["reference"].startswith("EthFeed@")
    assert found[0].evidence["reference_price"] == 1500 and found[0].severity == Severity.HIGH


def test_protocol_acting_on_a_stale_feed_is_flagged_in_that_block(world, anvil, tmp_path):
    anvil.rpc("evm_increaseTime", [4000])
    anvil.mine(1)
    first = world.head() + 1
    world.send(world.usd, "approve(address,uint256)", world.lending, 1_000 * E, sender=world.lp)
    world.mint(world.usd, world.lp, 1_000 * E)
    quiet_until = world.head()
    world.send(world.lending, "supply(uint256)", 1_000 * E, sender=world.lp)  # the protocol acts
    found = checks_at(follow(world, tmp_path, first))
    assert found == [(quiet_until + 1, "stale", "high")]


def checks_at(records) -> list[tuple[int, str, str]]:
    return [(r.block_number, check_of(r), r.severity) for r in by_rule(records, "oracle-health")]
