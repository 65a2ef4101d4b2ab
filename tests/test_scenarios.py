"""The scenario catalogue: the drills it offers, parameters checked by name, and the player's rule that an attack
step may revert (a pause shows that way) while a step of the environment may not."""

from __future__ import annotations

import pytest

from watchdog.errors import RpcError, WatchdogError
from watchdog.scenarios import CATALOGUES, ImmediatePlayer, catalogue, play_attack, play_traffic
from watchdog.scenarios.demo import BENIGN_TRAFFIC, SLOW_DRAIN


def test_the_demo_world_offers_its_drills_in_order():
    assert list(catalogue("demo").drills()) == [
        "flash-loan-spot", "twap-multiblock", "stale-oracle", "oracle-divergence", "admin-key", "malicious-upgrade",
        "slow-drain", "mempool-preempt", "benign-volatile"]
    for world, entries in CATALOGUES.items():
        assert all(s.world == world for s in entries.scenarios.values())
        assert entries.traffic.benign and entries.traffic.steps is not None


def test_an_unknown_world_is_one_clear_error():
    with pytest.raises(WatchdogError, match="no test world named 'moon': choose one of demo"):
        catalogue("moon")


def test_parameters_are_checked_by_name(world, anvil):
    with pytest.raises(TypeError, match="'slow-drain' has no parameter round; it takes: rounds, borrow_weth, margin"):
        play_attack(SLOW_DRAIN, world, round=3)
    with pytest.raises(ValueError, match="benign-traffic is not an attack"):
        play_attack(BENIGN_TRAFFIC, world)
    with pytest.raises(ValueError, match="slow-drain is an attack"):
        play_traffic(SLOW_DRAIN, world)


def test_an_attack_step_may_revert_but_not_a_step_of_the_environment(world, anvil):
    play = ImmediatePlayer(world)
    update = world.contract("ETH-USD-Feed").functions.updateAnswer(1)  # only the keeper publishes
    step = play.send("a forged feed update", update, "attacker")
    assert step.succeeded is False and step.block == world.w3.eth.block_number
    with pytest.raises(RpcError, match="'the keeper publishes' from attacker reverted"):
        play.send("the keeper publishes", update, "attacker", attack=False)
    assert play.steps == [step]
