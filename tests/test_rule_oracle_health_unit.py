"""oracle-health, check by check, on the test kit (no node): each failure of a feed is flagged under its own id, and
its healthy twin stays quiet; checks can be turned off and tuned one by one; the same feed on another network
is read through the engine's reader of that network."""

from __future__ import annotations

import pytest

from fixtures.detect.paper import (ANSWER_UPDATED, FEED, KEEPER, LENDING, USD, USD8, USER, E, described, manifest, priced,
                                   transfer)

from watchdog.chain.events import Block
from watchdog.detect import Severity
from watchdog.detect.testing import GENESIS_TIME, FakeChain, RuleKit, block, ids, log, tick, tx
from watchdog.rules.oracle_health import OracleHealth

HOUR = 3600


def kit(heartbeat: bool = True, **kw) -> RuleKit:
    paper = manifest()
    if not heartbeat:
        paper["contracts"][3].pop("heartbeat")  # the feed: the rule's `heartbeat` parameter applies
    made = RuleKit(OracleHealth, paper, **kw)
    priced(made.chain)
    return made


def at(seconds: int) -> Block:
    """A block `seconds` after the feed's last update."""
    return block(100, timestamp=GENESIS_TIME + seconds)


def update(k: RuleKit, number: int, before: int, after: int, **feed) -> list:
    """A block in which the keeper moves the feed from `before` to `after` (USD per ETH)."""
    k.chain.feed(FEED, before * USD8, GENESIS_TIME, block=number - 1)
    k.chain.feed(FEED, after * USD8, GENESIS_TIME + 12 * number, round_id=2, block=number, **feed)
    keeper = tx(KEEPER, FEED, block=number)
    return k.run(keeper, logs=[log(FEED, ANSWER_UPDATED, after * USD8, 2, GENESIS_TIME)])


def test_stale_feed_on_the_schedule_and_a_fresh_one():
    k = kit()
    assert k.run(tick(at(HOUR))) == []                      # within the heartbeat
    found = k.run(tick(at(HOUR + 400)))                     # 3600 s heartbeat plus 10 % grace exceeded
    assert ids(found) == ["oracle-health.stale"] and found[0].severity == Severity.HIGH
    assert found[0].evidence["age"] == HOUR + 400 and found[0].title == "EthFeed: stale"


def test_stale_feed_when_the_protocol_acts_and_not_when_it_is_fresh():
    supply = lambda: tx(USER, LENDING)  # noqa: E731
    late = kit()
    late.chain.feed(FEED, 2000 * USD8, GENESIS_TIME - 2 * HOUR)
    found = late.run(supply(), logs=[transfer(USD, USD, LENDING, 1_000 * E)])
    assert ids(found) == ["oracle-health.stale"]
    assert kit().run(supply(), logs=[transfer(USD, USD, LENDING, 1_000 * E)]) == []


def test_non_positive_answer_is_critical():
    k = kit()
    k.chain.feed(FEED, 0, GENESIS_TIME)
    found = k.run(tick(at(60)))
    assert ids(found) == ["oracle-health.non-positive"] and found[0].severity == Severity.CRITICAL


def test_incomplete_round():
    k = kit()
    k.chain.feed(FEED, 2000 * USD8, GENESIS_TIME, round_id=7, answered_in_round=6)
    assert ids(k.run(tick(at(60)))) == ["oracle-health.incomplete-round"]
    k.chain.feed(FEED, 2000 * USD8, GENESIS_TIME, round_id=7, answered_in_round=7)
    assert k.run(tick(at(120))) == []


def test_unreadable_feed():
    k = kit()
    k.chain.on_call(FEED, "latestRoundData()(uint80,int256,uint256,uint256,uint80)", reverts=True)
    assert ids(k.run(tick(at(60)))) == ["oracle-health.unreadable"]


def test_jump_move_and_a_quiet_update():
    assert [(f.rule_id, f.severity) for f in update(kit(), 5, 2000, 1000)] == [
        ("oracle-health.jump", Severity.HIGH), ("oracle-health.divergence", Severity.HIGH)]
    moved = update(kit(), 5, 2000, 2240)
    assert [(f.rule_id, f.severity) for f in moved] == [
        ("oracle-health.move", Severity.LOW), ("oracle-health.divergence", Severity.MEDIUM)]
    assert moved[0].evidence["move"] == pytest.approx(0.12)
    assert update(kit(), 5, 2000, 2050) == []


def test_divergence_from_the_pool_grows_with_the_gap():
    k = kit()
    k.chain.feed(FEED, 2600 * USD8, GENESIS_TIME)
    found = k.run(tick(at(60)))
    assert ids(found) == ["oracle-health.divergence"] and found[0].severity == Severity.HIGH
    assert found[0].evidence["reference"] == "Pool" and found[0].evidence["reference_price"] == pytest.approx(2000)
    k.chain.feed(FEED, 2100 * USD8, GENESIS_TIME)
    assert k.run(tick(at(61))) == []


def test_divergence_from_the_same_feed_on_another_network():
    remote_feed = "0x" + "77" * 20
    other = FakeChain("remote")
    other.feed(remote_feed, 1500 * USD8, GENESIS_TIME)
    params = {"remote_feeds": {"EthFeed": {"rpc": "http://other-network:8545", "address": remote_feed}}}
    k = kit(params=params, remotes={"http://other-network:8545": other})
    found = k.run(tick(at(60)))
    assert ids(found) == ["oracle-health.divergence"] and found[0].severity == Severity.HIGH
    assert found[0].evidence["reference"] == "EthFeed@http://other-network:8545"
    other.feed(remote_feed, 2010 * USD8, GENESIS_TIME)
    assert k.run(tick(at(61))) == []


def test_an_unreachable_remote_network_is_no_finding_and_no_error():
    params = {"remote_feeds": {"EthFeed": {"rpc": "http://nowhere:8545", "address": "0x" + "77" * 20}}}
    k = kit(params=params)  # nothing answers for that network
    assert k.run(tick(at(60))) == [] and k.engine.stats["oracle-health"].errors == 0


def test_one_check_off_and_one_check_tuned():
    quiet = kit(checks={"move": {"enabled": False}, "divergence": {"enabled": False}})
    assert update(quiet, 5, 2000, 2240) == []
    sharper = kit(checks={"jump": {"jump_threshold": 0.1}, "divergence": {"enabled": False}})
    assert ids(update(sharper, 5, 2000, 2240)) == ["oracle-health.jump"]
    assert ids(kit(heartbeat=False).run(tick(at(HOUR + 400)))) == ["oracle-health.stale"]  # the default 3600 s
    patient = kit(heartbeat=False, checks={"stale": {"heartbeat": 7200}})
    assert patient.run(tick(at(HOUR + 400))) == [] and ids(patient.run(tick(at(8000)))) == ["oracle-health.stale"]


def test_a_repeated_check_waits_for_its_cooldown():
    k = kit()
    assert ids(k.run(tick(at(HOUR + 400)))) == ["oracle-health.stale"]
    assert k.run(tick(at(HOUR + 900))) == []                      # within 600 s
    assert ids(k.run(tick(at(HOUR + 1100)))) == ["oracle-health.stale"]


# -- without hints: the heartbeat learned from the feed's rounds, the market from the other sources of its asset --

ROUND_AT = "getRoundData(uint80)(uint80,int256,uint256,uint256,uint80)"


def unhinted(pool_price: int) -> RuleKit:
    """No heartbeat, asset or reference in the manifest. The feed published every ten minutes for twenty rounds,
    the last at genesis; the pool now prices ETH at `pool_price`."""
    paper = manifest()
    for entry in paper["contracts"]:
        for hint in ("heartbeat", "asset", "reference"):
            entry.pop(hint, None)
    k = RuleKit(OracleHealth, paper)
    chain = priced(k.chain, reserves=(pool_price * 1_000 * E, 1_000 * E))
    chain.feed(FEED, 2000 * USD8, GENESIS_TIME, round_id=20)
    for n in range(1, 20):
        at_round = GENESIS_TIME - (20 - n) * 600
        chain.on_call(FEED, ROUND_AT, [n], returns=(n, 2000 * USD8, at_round, at_round, n))
    described(chain)
    return k


def test_late_by_its_learned_heartbeat_a_feed_is_stale_and_how_alarming_depends_on_the_market():
    flat = unhinted(2000).run(tick(at(1_000)))  # 600 s rounds: a 900 s heartbeat is learned (the default is 3600)
    assert [(f.rule_id, f.severity) for f in flat] == [("oracle-health.stale", Severity.MEDIUM)]
    assert flat[0].evidence["heartbeat"] == 900 and flat[0].evidence["heartbeat_from"] == "learned from its rounds"
    moved = unhinted(2_300).run(tick(at(1_000)))  # meanwhile the pool says ETH is 15 % higher
    by_id = {f.rule_id: f for f in moved}
    assert by_id["oracle-health.stale"].severity == Severity.HIGH
    assert by_id["oracle-health.stale"].evidence["gap"] == pytest.approx(2000 / 2300 - 1)
    assert by_id["oracle-health.divergence"].evidence["divergence"] == pytest.approx(2000 / 2300 - 1)  # from the model
    assert "oracle-health.stale" not in ids(unhinted(2_300).run(tick(at(800))))  # within its learned heartbeat
