"""Judgement on a world the rules were not written for: the Harbor world, watched through its roles-only manifest
(no hints). Each attack is flagged at high no later than the block of its first exploit transaction, naming what
it puts at risk; each honest play — whales taking most of a pool's cash, flash-funded liquidations, leverage
loops, an owner returning stray tokens, a vault's first deposit, a full options cycle, 10-15 % feed moves — stays
below high."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.detect.kit import follow_manifest

from watchdog.devnet import world2 as harbor
from watchdog.devnet.world2 import HarborWorld
from watchdog.finding import Severity

ATTACKS = {**harbor.ATTACKS, "slow-drain": lambda world: harbor.slow_drain_attack(world, slices=12)}


@pytest.fixture
def world(harbor_world: HarborWorld) -> HarborWorld:
    return harbor_world


def judged(world: HarborWorld, tmp_path: Path, make) -> tuple[list, harbor.Outcome]:
    """Play `make(world)` at once and follow every block from before it was made; the findings and the outcome."""
    first = world.block_number() + 1
    world.rpc("evm_mine")  # the model is learned at a block before anything of the play
    outcome = harbor.play(world, make(world))
    return follow_manifest(world.rpc_url, world.manifest_path, tmp_path, first, world.block_number()), outcome


def high(records) -> list:
    return [r for r in records if Severity(r.severity) >= Severity.HIGH]


@pytest.mark.parametrize("name", ATTACKS)
def test_each_attack_is_high_by_the_block_of_its_first_exploit(world: HarborWorld, tmp_path: Path, name: str) -> None:
    records, outcome = judged(world, tmp_path, ATTACKS[name])
    exploit = min(r.block for r in outcome.records if r.kind in ("exploit", "payoff"))
    flagged = high(records)
    assert flagged, f"{name}: nothing at high; found {[(r.rule_id, r.severity) for r in records]}"
    first = min(flagged, key=lambda r: r.block_number)
    assert first.block_number <= exploit, f"{name}: first high finding {first.rule_id} in {first.block_number}, exploit in {exploit}"


@pytest.mark.parametrize("name", sorted(harbor.BENIGN))
def test_honest_activity_stays_below_high(world: HarborWorld, tmp_path: Path, name: str) -> None:
    records, outcome = judged(world, tmp_path, harbor.BENIGN[name])
    assert not outcome.reverted, [r.label for r in outcome.reverted]
    assert [(r.rule_id, r.title) for r in high(records)] == []


def test_a_whale_takes_most_of_the_pools_cash_and_nothing_is_drained(world: HarborWorld, tmp_path: Path) -> None:
    records, outcome = judged(world, tmp_path, harbor.BENIGN["whale-exit"])
    assert outcome.details["credit_cash_share"] > 0.5  # most of the lending pool's cash, in one transaction
    assert [r for r in records if r.rule_id.startswith("drain")] == []
