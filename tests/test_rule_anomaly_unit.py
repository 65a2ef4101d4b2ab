"""anomaly, check by check, on the test kit (no node): a market's token flow or a metric far outside its usual
range is reported after the warm-up, never at pause level; usual activity, a spike during the warm-up and a block
replayed twice are quiet."""

from __future__ import annotations

from fixtures.detect.paper import LENDING, USD, USER, E, manifest, transfer

from watchdog.detect import PAUSE_SEVERITY, Severity
from watchdog.detect.testing import RuleKit, ids, log, tx
from watchdog.rules.anomaly import Anomaly

OPEN_INTEREST = "openInterest()(uint256)"
WARMUP = {"warmup": 8}


def kit(**kw) -> RuleKit:
    paper = manifest()
    paper["contracts"][5]["metrics"] = {"open_interest": OPEN_INTEREST}  # Lending
    made = RuleKit(Anomaly, paper, **kw)
    made.chain.on_call(LENDING, OPEN_INTEREST, returns=10_000)
    return made


def supply(k: RuleKit, number: int, amount: int) -> list:
    """Block `number`: one supply of `amount` USD to the market."""
    made = tx(USER, LENDING, block=number)
    return k.run(made, logs=[transfer(USD, USER, LENDING, amount, of=made)])


def usual(k: RuleKit, blocks: int) -> list:
    return [f for n in range(blocks) for f in supply(k, 10 + n, (1_000 + 37 * (n % 5)) * E)]


def test_a_flow_far_outside_the_usual_range_after_warmup():
    k = kit(params=WARMUP)
    assert usual(k, 10) == []
    found = supply(k, 30, 500_000 * E)
    assert ids(found) == ["anomaly.flow"] and found[0].tx_hash is None and found[0].block_number == 30
    assert found[0].evidence["samples"] == 10 and found[0].evidence["score"] > 12
    assert Severity(found[0].severity) < PAUSE_SEVERITY


def test_a_spike_during_warmup_and_a_usual_flow_are_quiet():
    k = kit(params=WARMUP)
    assert usual(k, 3) == [] and supply(k, 30, 500_000 * E) == []
    k = kit(params=WARMUP)
    assert usual(k, 10) == [] and supply(k, 30, 1_100 * E) == []


def test_a_metric_far_outside_its_usual_range():
    k = kit(params=WARMUP, checks={"flow": {"enabled": False}})
    assert usual(k, 10) == []
    k.chain.on_call(LENDING, OPEN_INTEREST, returns=400_000, block=30)
    found = supply(k, 30, 1_000 * E)
    assert ids(found) == ["anomaly.metric"] and found[0].evidence["series"] == "open_interest"


def test_a_quiet_market_gives_no_sample():
    k = kit(params=WARMUP)
    assert [k.run(tx(USER, USD, block=10 + n), logs=[log(USD, "Approval(address indexed owner, address indexed "
                                                          "spender, uint256 value)", USER, LENDING, E)])
            for n in range(3)] == [[], [], []]
    assert k.engine.state.get("anomaly", f"series:{LENDING}:open_interest") is None


def test_a_block_seen_twice_counts_once():
    k = kit(params=WARMUP)
    usual(k, 10)
    assert len(k.engine.state.get("anomaly", f"series:{LENDING}:flow:{USD}")) == 10
    supply(k, 19, 1_000 * E)  # block 19 again (a reprocessed block): the same sample
    assert len(k.engine.state.get("anomaly", f"series:{LENDING}:flow:{USD}")) == 10


def test_the_severity_cap_holds_for_one_check():
    k = kit(params=WARMUP, checks={"flow": {"max_severity": "low"}})
    usual(k, 10)
    assert [f.severity for f in supply(k, 30, 50_000_000 * E)] == [Severity.LOW]
