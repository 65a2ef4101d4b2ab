"""A real Chainlink feed as protocols read it: Chainlink's own EACAggregatorProxy in front of a FluxAggregator,
both compiled from @chainlink/contracts. The proxy emits nothing per round; the watchdog follows the rounds of
its current aggregator, judges them in the block they land in, and notices when the proxy is pointed at
another aggregator — which emits no event either."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.detect.kit import by_rule, follow_manifest

from watchdog.devnet import Anvil
from watchdog.devnet.chainlink import ChainlinkFeed, deploy_feed

USD = 10**8


@pytest.fixture
def feed(fresh_anvil: Anvil) -> Iterator[ChainlinkFeed]:
    yield deploy_feed(fresh_anvil.url, answer=3_000 * USD)


def manifest(feed: ChainlinkFeed, tmp_path: Path) -> Path:
    """Roles only: the proxy is the feed protocols consume; its aggregator is nowhere in the manifest."""
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"chain_id": 31337, "block": 0, "contracts": [
        {"name": "ETH-USD", "address": feed.proxy_address, "role": "oracle_feed", "abi": feed.abis[feed.proxy_kind]}]}))
    return path


def follow(node: Anvil, feed: ChainlinkFeed, tmp_path: Path, first: int) -> list:
    return follow_manifest(node.url, manifest(feed, tmp_path), tmp_path, first, node.block_number())


def test_a_jump_posted_on_the_aggregator_is_seen_in_its_block(fresh_anvil: Anvil, feed: ChainlinkFeed, tmp_path: Path) -> None:
    first = fresh_anvil.block_number() + 1
    feed.post_round(3_030 * USD)  # an honest 1 % move
    honest = fresh_anvil.block_number()
    feed.post_round(1_500 * USD)  # -50 % in one round
    jump = fresh_anvil.block_number()
    found = follow(fresh_anvil, feed, tmp_path, first)
    [finding] = [f for f in by_rule(found, "oracle-health") if f.rule_id == "oracle-health.jump"]
    assert finding.block_number == jump and finding.evidence["feed"] == "ETH-USD"
    assert finding.evidence["move"] == pytest.approx(1_500 / 3_030 - 1)
    assert not [f for f in found if f.block_number == honest and f.severity in ("high", "critical")]


def test_a_non_positive_answer_is_seen_in_its_block(fresh_anvil: Anvil, feed: ChainlinkFeed, tmp_path: Path) -> None:
    first = fresh_anvil.block_number() + 1
    feed.post_round(0)
    found = follow(fresh_anvil, feed, tmp_path, first)
    assert [f.block_number for f in found if f.rule_id == "oracle-health.non-positive"] == [fresh_anvil.block_number()]


def test_an_aggregator_swap_is_flagged_and_the_new_aggregator_followed(fresh_anvil: Anvil, feed: ChainlinkFeed,
                                                                       tmp_path: Path) -> None:
    first = fresh_anvil.block_number() + 1
    replacement = feed.deploy_aggregator(answer=3_000 * USD)
    feed.propose_aggregator(replacement)
    feed.confirm_aggregator(replacement)  # the proxy now reads another contract; no event says so
    swapped = fresh_anvil.block_number()
    feed.post_round(1_000 * USD, aggregator=replacement)  # a crash posted by the new aggregator
    crash = fresh_anvil.block_number()
    found = follow(fresh_anvil, feed, tmp_path, first)
    [swap] = [f for f in found if f.rule_id == "privileged-change.oracle-source"]
    assert swap.block_number == swapped and swap.severity == "high"
    assert swap.evidence["aggregator_after"] == replacement.lower()
    assert [f.block_number for f in found if f.rule_id == "oracle-health.jump"] == [crash]
