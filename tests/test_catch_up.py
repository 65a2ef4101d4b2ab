"""Catching up on history misses nothing: blocks far behind the head (beyond the reorg window) are read with
their transactions and judged like live ones, so a silent upgrade or native coin pulled without any event is
found in a backfill too. The cheaper `logs` backfill is blind to them, as documented."""

from __future__ import annotations

import pytest
from fixtures.detect.kit import by_rule, call_data, follow, lending_world  # noqa: F401

COIN = 10**18

WINDOW_AND_MORE = 100  # blocks mined afterwards: the activity is older than the reorg window (64)


@pytest.fixture
def world(lending_world):
    return lending_world


def test_log_less_activity_in_old_blocks_is_found_by_a_complete_backfill(world, anvil, tmp_path):
    world.receipt(world.node.rpc("eth_sendTransaction", [{"from": world.lp, "to": world.lending, "value": hex(100 * COIN)}]))
    relay = world.deploy("Relay", sender=world.attacker)
    first = world.head() + 1
    world.send(world.proxy, "sneakyUpgrade(address)", world.accounts[7])
    pull = bytes.fromhex(call_data("skim(address,uint256)", world.attacker, 80 * COIN)[2:])
    world.send(relay, "forward(address,bytes)", world.lending, pull, sender=world.attacker)
    anvil.mine(WINDOW_AND_MORE)

    (tmp_path / "complete").mkdir()
    (tmp_path / "logs").mkdir()
    found = follow(world, tmp_path / "complete", first)
    assert [r.rule_id for r in by_rule(found, "privileged-change")] == ["privileged-change.silent-upgrade"]
    assert [r.rule_id for r in by_rule(found, "drain")] == ["drain.native-block"]

    cheap = follow(world, tmp_path / "logs", first, backfill="logs")
    assert by_rule(cheap, "privileged-change") == [] and by_rule(cheap, "drain") == []
