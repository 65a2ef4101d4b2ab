"""drain on a real anvil: an admin-key sweep and a drain split over one block's transactions are flagged, in
tokens and in the native coin (also when it leaves through contracts without any event); honest withdrawals
are not, however large (the depositor's position settles); value floors and the usual-outflow band behave."""

from __future__ import annotations

import pytest

from fixtures.detect.kit import E, by_rule, call_data, follow, lending_world  # noqa: F401

from watchdog.detect import PAUSE_SEVERITY, Severity
from watchdog.rules.drain import NATIVE


@pytest.fixture
def world(lending_world):
    return lending_world


def sweep(world, amount: int, **extra) -> str:
    return world.send(world.lending, "sweep(address,address,uint256)", world.usd, world.accounts[9], amount, **extra)


def test_admin_key_sweep_is_critical(world, anvil, tmp_path):
    first = world.head() + 1
    tx = sweep(world, 990_000 * E)
    found = by_rule(follow(world, tmp_path, first), "drain")
    assert [(r.rule_id, r.tx_hash, r.severity) for r in found] == [("drain.tx", tx, "critical")]
    assert found[0].evidence["fraction"] == pytest.approx(0.99) and found[0].evidence["value"] == 990_000


def test_honest_large_withdrawal_stays_quiet(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.lending, "withdraw(uint256)", 900_000 * E, sender=world.lp)  # 90 % of the pool: the LP's own money
    records = follow(world, tmp_path, first)
    assert by_rule(records, "drain") == []
    assert all(Severity(r.severity) < PAUSE_SEVERITY for r in records)


def test_drain_split_over_one_block_is_seen_at_block_level(world, anvil, tmp_path):
    first = world.head() + 1
    anvil.set_automine(False)
    try:
        sweep(world, 300_000 * E, wait=False)
        sweep(world, 300_000 * E, wait=False)
        anvil.mine(1)
    finally:
        anvil.set_automine(True)
    found = by_rule(follow(world, tmp_path, first), "drain")
    assert [(r.rule_id, r.tx_hash) for r in found] == [("drain.block", None)]
    assert found[0].severity == "high" and found[0].evidence["txs"] == 2
    assert found[0].evidence["fraction"] == pytest.approx(0.6)


def test_value_floor_keeps_small_losses_low(world, anvil, tmp_path):
    first = world.head() + 1
    sweep(world, 990_000 * E)
    found = by_rule(follow(world, tmp_path, first, rules={"drain": {"min_value": 10_000_000}}), "drain")
    assert [r.severity for r in found] == ["low"]


def test_outflow_far_above_the_usual_band_after_warmup(world, anvil, tmp_path):
    first = world.head() + 1
    for n in range(6):
        world.send(world.lending, "withdraw(uint256)", (1_000 + 100 * n) * E, sender=world.lp)
    own = world.send(world.lending, "withdraw(uint256)", 40_000 * E, sender=world.lp)  # ~35x usual, its own money
    taken = sweep(world, 200_000 * E)  # by an owner's call, to an address owed nothing: 20 % of the pool
    found = by_rule(follow(world, tmp_path, first, rules={"drain": {"warmup": 5}}), "drain")
    assert [(r.rule_id, r.tx_hash, r.severity) for r in found] == [("drain.unusual-outflow", taken, "medium")]
    assert found[0].evidence["usual_multiple"] > 10 and own != taken


COIN = 10**18  # one unit of the native coin, in wei


def deposit_coin(world, amount: int) -> None:
    """The LP deposits native coin into the lending pool."""
    world.receipt(world.node.rpc("eth_sendTransaction", [{"from": world.lp, "to": world.lending, "value": hex(amount)}]))


def test_native_coin_sweep_is_critical_and_priced(world, anvil, tmp_path):
    deposit_coin(world, 100 * COIN)
    first = world.head() + 1
    tx = world.send(world.lending, "sweepCoin(address,uint256)", world.accounts[9], 95 * COIN)
    found = by_rule(follow(world, tmp_path, first, rules={"drain": {"native_asset": "ETH"}}), "drain")
    assert [(r.rule_id, r.tx_hash, r.severity) for r in found] == [("drain.native-tx", tx, "critical")]
    assert found[0].evidence["token"] == NATIVE and found[0].evidence["fraction"] == pytest.approx(0.95)
    assert found[0].evidence["value"] == pytest.approx(95 * 2000)  # priced like the ETH token, by the feed


def test_native_coin_pulled_through_a_relay_without_events_is_seen_at_block_level(world, anvil, tmp_path):
    deposit_coin(world, 100 * COIN)
    relay = world.deploy("Relay", sender=world.attacker)
    first = world.head() + 1
    pull = bytes.fromhex(call_data("skim(address,uint256)", world.attacker, 80 * COIN)[2:])
    world.send(relay, "forward(address,bytes)", world.lending, pull, sender=world.attacker)
    found = by_rule(follow(world, tmp_path, first), "drain")
    assert [(r.rule_id, r.tx_hash) for r in found] == [("drain.native-block", None)]
    assert found[0].severity == "high" and found[0].evidence["token"] == NATIVE
    assert found[0].evidence["fraction"] == pytest.approx(0.8)


def test_honest_native_coin_withdrawal_stays_quiet(world, anvil, tmp_path):
    deposit_coin(world, 100 * COIN)
    first = world.head() + 1
    world.send(world.lending, "withdrawCoin(uint256)", 30 * COIN, sender=world.lp)  # 30 %, the LP's own coin
    records = follow(world, tmp_path, first)
    assert by_rule(records, "drain") == []
    assert all(Severity(r.severity) < PAUSE_SEVERITY for r in records)
