"""anomaly on a real anvil: silent during warm-up, speaks on a flow far outside the usual band, never pauses."""

from __future__ import annotations

import pytest

from fixtures.detect.kit import E, by_rule, follow, lending_world  # noqa: F401

from watchdog.detect import PAUSE_SEVERITY, Severity

RULES = {"anomaly": {"warmup": 8}}


@pytest.fixture
def world(lending_world, anvil):
    world = lending_world  # minted inside the test's snapshot, so reverted with it
    world.mint(world.usd, world.lp, 1_000_000 * E)
    return world


def supply(world, amount: int) -> str:
    return world.send(world.lending, "supply(uint256)", amount, sender=world.lp)


def test_usual_flows_are_quiet(world, anvil, tmp_path):
    first = world.head() + 1
    for n in range(12):
        supply(world, (1_000 + 37 * (n % 5)) * E)
    assert by_rule(follow(world, tmp_path, first, rules=RULES), "anomaly") == []


def test_spike_after_warmup_is_reported_below_the_pause_threshold(world, anvil, tmp_path):
    first = world.head() + 1
    for n in range(10):
        supply(world, (1_000 + 37 * (n % 5)) * E)
    spike = supply(world, 500_000 * E)
    found = by_rule(follow(world, tmp_path, first, rules=RULES), "anomaly")
    assert [r.tx_hash for r in found] == [None] and found[0].block_number == world.head()
    assert found[0].evidence["score"] > 12 and found[0].evidence["samples"] == 10
    assert Severity(found[0].severity) < PAUSE_SEVERITY
    assert spike


def test_spike_during_warmup_is_not_reported(world, anvil, tmp_path):
    first = world.head() + 1
    for n in range(3):
        supply(world, 1_000 * E)
    supply(world, 500_000 * E)
    assert by_rule(follow(world, tmp_path, first, rules=RULES), "anomaly") == []
