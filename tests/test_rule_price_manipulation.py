"""price-manipulation on a real anvil: round trip and consumed price in the flash-loan attack, sandwich shape in
one block, a TWAP pushed over consecutive blocks; quiet on single honest trades and fair-price borrowing."""

from __future__ import annotations

import pytest

from fixtures.detect.kit import E, by_rule, follow, lending_world  # noqa: F401

from watchdog.detect import PAUSE_SEVERITY, Severity


@pytest.fixture
def world(lending_world):
    """This module tests against the small lending world of the rule tests."""
    return lending_world

GWEI = 10**9


def buy_eth(world, usd: int, **extra) -> str:
    return world.send(world.trader, "sell(address,address,uint256)", world.pair, world.usd, usd, **extra)


def sell_eth(world, eth: int, **extra) -> str:
    return world.send(world.trader, "sell(address,address,uint256)", world.pair, world.eth, eth, **extra)


def test_attack_pushes_the_pool_and_back_and_the_protocol_consumes_it(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.spot_attacker, "attack(uint256,uint256)", 3_000_000 * E, 950_000 * E, sender=world.attacker)
    found = by_rule(follow(world, tmp_path, first), "price-manipulation")
    checks = {r.rule_id: r for r in found}
    assert set(checks) == {"price-manipulation.round-trip", "price-manipulation.consumed-price"}
    trip = checks["price-manipulation.round-trip"]
    assert trip.severity == "critical" and abs(trip.evidence["peak_move"]) > 0.5 and abs(trip.evidence["end_move"]) < 0.01
    consumed = checks["price-manipulation.consumed-price"]
    assert consumed.severity == "high" and consumed.evidence["reference_price"] == 2000
    assert consumed.evidence["consumed_price"] > 10_000


def test_fair_borrow_and_single_trades_stay_quiet(world, anvil, tmp_path):
    first = world.head() + 1
    world.mint(world.eth, world.user, 10 * E)
    world.send(world.eth, "approve(address,uint256)", world.lending, 10 * E, sender=world.user)
    world.send(world.lending, "post(uint256)", 10 * E, sender=world.user)
    world.send(world.lending, "borrow(uint256)", 10_000 * E, sender=world.user)   # reads the adapter at a fair price
    buy_eth(world, 150_000 * E)                                                   # one honest +15 % trade
    assert by_rule(follow(world, tmp_path, first), "price-manipulation") == []


def test_sandwich_shape_within_one_block(world, anvil, tmp_path):
    first = world.head() + 1
    anvil.set_automine(False)
    try:
        fees = lambda tip: {"maxFeePerGas": hex(100 * GWEI), "maxPriorityFeePerGas": hex(tip * GWEI)}  # noqa: E731
        buy_eth(world, 200_000 * E, sender=world.accounts[6], wait=False, **fees(3))     # front-run
        buy_eth(world, 20_000 * E, sender=world.accounts[7], wait=False, **fees(2))      # victim
        sell_eth(world, 90 * E, sender=world.accounts[6], wait=False, **fees(1))         # back-run
        anvil.mine(1)
    finally:
        anvil.set_automine(True)
    found = by_rule(follow(world, tmp_path, first), "price-manipulation")
    assert [r.rule_id for r in found] == ["price-manipulation.sandwich"]
    assert found[0].severity == "medium" and len(found[0].evidence["txs"]) == 3


def test_twap_pushed_over_consecutive_blocks(world, anvil, tmp_path):
    first = world.head() + 1
    for _ in range(3):
        buy_eth(world, 80_000 * E)  # about +8 % each, one block each
    found = by_rule(follow(world, tmp_path, first), "price-manipulation")
    assert [r.rule_id for r in found] == ["price-manipulation.twap-push"]
    assert found[0].evidence["total_move"] < -0.2  # Pool quotes ETH per USD: the USD price of ETH went up
    assert Severity(found[0].severity) < PAUSE_SEVERITY  # no TWAP oracle reads this pool


def test_back_and_forth_trading_is_not_a_twap_push(world, anvil, tmp_path):
    first = world.head() + 1
    buy_eth(world, 80_000 * E)
    buy_eth(world, 80_000 * E)
    sell_eth(world, 30 * E)
    buy_eth(world, 80_000 * E)
    assert by_rule(follow(world, tmp_path, first), "price-manipulation") == []
