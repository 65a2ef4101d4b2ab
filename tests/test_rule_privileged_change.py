"""privileged-change on a real anvil: who changed what; an expected routine parameter change stays informational,
oracle/ownership/implementation changes are high, a silent EIP-1967 upgrade is critical."""

from __future__ import annotations

import pytest

from fixtures.detect.kit import by_rule, follow, lending_world  # noqa: F401

from watchdog.detect import PAUSE_SEVERITY, Severity

EXPECTED = {"privileged-change": {"expected": [{"contract": "Lending", "event": "LtvSet", "args": {"ltv": 75}}]}}


@pytest.fixture
def world(lending_world):
    return lending_world


def test_routine_parameter_change_configured_as_expected(world, anvil, tmp_path):
    first = world.head() + 1
    tx = world.send(world.lending, "setLtv(uint256)", 75)
    records = follow(world, tmp_path, first, rules=EXPECTED)
    found = by_rule(records, "privileged-change")
    assert [(r.tx_hash, r.severity, r.evidence["kind"], r.evidence["expected"]) for r in found] == [(tx, "info", "parameter", True)]
    assert found[0].evidence["sender"] == world.owner and found[0].evidence["args"] == {"ltv": "75"}
    assert all(Severity(r.severity) < PAUSE_SEVERITY for r in records)


def test_unexpected_parameter_value_is_reported(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.lending, "setLtv(uint256)", 99)
    found = by_rule(follow(world, tmp_path, first, rules=EXPECTED), "privileged-change")
    assert [(r.severity, r.evidence["expected"]) for r in found] == [("medium", False)]


def test_oracle_source_and_ownership_changes_are_high(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.lending, "setOracle(address)", world.accounts[8])
    world.send(world.lending, "transferOwnership(address)", world.accounts[8])
    found = by_rule(follow(world, tmp_path, first), "privileged-change")
    assert [(r.rule_id, r.severity) for r in found] == [("privileged-change.oracle-source", "high"),
                                                        ("privileged-change.ownership", "high")]
    assert found[1].evidence["args"]["newOwner"] == world.accounts[8]
    assert world.accounts[8] in found[1].addresses


def test_parameter_change_by_the_protocols_safe_weighs_less_but_a_hand_over_does_not(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.lending, "setLtv(uint256)", 90)
    world.send(world.lending, "setOracle(address)", world.accounts[8])
    found = by_rule(follow(world, tmp_path, first, safe=world.owner), "privileged-change")
    assert sorted((r.evidence["kind"], r.severity, r.evidence["by_governance"]) for r in found) == [
        ("oracle-source", "high", True), ("parameter", "low", True), ("source-replaced", "medium", True)]
    replaced = next(r for r in found if r.rule_id == "privileged-change.source-replaced")
    assert replaced.evidence["after"] is None  # its oracle() now names an account, which gives no price


def test_announced_and_silent_upgrades(world, anvil, tmp_path):
    first = world.head() + 1
    announced = world.send(world.proxy, "upgradeTo(address)", world.accounts[8])
    world.send(world.proxy, "sneakyUpgrade(address)", world.accounts[7])
    found = by_rule(follow(world, tmp_path, first), "privileged-change")
    assert [(r.rule_id, r.title, r.severity) for r in found] == [
        ("privileged-change.implementation", "Proxy: Upgraded", "high"),
        ("privileged-change.silent-upgrade", "Proxy: EIP-1967 implementation changed without an event", "critical")]
    assert found[0].tx_hash == announced and found[1].tx_hash is None
    assert found[1].evidence["after"].endswith(world.accounts[7][2:])
