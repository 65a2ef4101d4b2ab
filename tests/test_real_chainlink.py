"""Chainlink's own feed contracts, compiled from the @chainlink/contracts sources with solc-js, on a real anvil:
rounds answered on the FluxAggregator are read through the proxy with the phase id in the round id; the
aggregator emits the round events, the proxy none; an aggregator change starts a new phase, and only the v0.7
AggregatorProxy announces it with events (the mainnet EACAggregatorProxy changes silently)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3
from web3.logs import DISCARD

from watchdog.devnet import Anvil, chainlink
from watchdog.devnet.aave import aave_on_anvil
from watchdog.devnet.chainlink import ChainlinkFeed, deploy_feed, proxy_round_id
from watchdog.errors import ToolchainError

USD = 10**8  # the feed's 8 decimals
PROXIES = ("EACAggregatorProxy", "AggregatorProxy")


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    with Anvil() as anvil:
        yield anvil


@pytest.fixture
def chain(node: Anvil) -> Iterator[Anvil]:
    snapshot = node.snapshot()
    yield node
    node.revert(snapshot)


@pytest.fixture(params=PROXIES)
def feed(request: pytest.FixtureRequest, chain: Anvil) -> ChainlinkFeed:
    """A feed answering 3,000 USD in its first round, behind each kind of proxy."""
    return deploy_feed(chain.url, proxy=request.param, answer=3_000 * USD)


def test_rounds_posted_on_the_aggregator_are_read_through_the_proxy(feed):
    first = feed.latest_round_data()
    assert (first.round_id, first.answer, first.phase_id) == (proxy_round_id(1, 1), 3_000 * USD, 1)

    receipt = feed.post_round(3_100 * USD)
    latest = feed.latest_round_data()
    assert latest.answer == 3_100 * USD
    assert latest.round_id == 1 << 64 | 2 and latest.answered_in_round == latest.round_id
    assert (latest.phase_id, latest.aggregator_round_id) == (1, 2)
    assert latest.updated_at == feed.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    # The aggregator itself numbers the round without the phase.
    assert feed.aggregator().functions.latestRoundData().call()[:2] == [2, 3_100 * USD]
    assert feed.proxy.functions.decimals().call() == 8 and feed.proxy.functions.description().call() == "ETH / USD"


def test_the_aggregator_emits_the_round_events_and_the_proxy_none(feed):
    aggregator = feed.aggregator()
    receipt = feed.post_round(2_900 * USD)

    emitters = {log["address"] for log in receipt["logs"]}
    assert emitters == {aggregator.address} and feed.proxy_address not in emitters
    [answer] = aggregator.events.AnswerUpdated().process_receipt(receipt, errors=DISCARD)
    [new_round] = aggregator.events.NewRound().process_receipt(receipt, errors=DISCARD)
    assert (answer.args.current, answer.args.roundId) == (2_900 * USD, 2)
    assert (new_round.args.roundId, new_round.args.startedBy) == (2, feed.oracle.address)


@pytest.mark.parametrize("kind,announced", [("AggregatorProxy", True), ("EACAggregatorProxy", False)])
def test_an_aggregator_change_starts_a_new_phase(chain, kind, announced):
    feed = deploy_feed(chain.url, proxy=kind, answer=3_000 * USD)
    feed.post_round(3_050 * USD)
    old = feed.aggregator().address
    new = Web3.to_checksum_address(feed.deploy_aggregator(answer=3_060 * USD))

    proposed = feed.propose_aggregator(new)
    assert feed.aggregator().address == old and feed.phase_id() == 1  # a proposal changes nothing yet
    confirmed = feed.confirm_aggregator(new)

    assert feed.phase_id() == 2 and feed.aggregator().address == new
    if announced:
        [event] = feed.proxy.events.AggregatorProposed().process_receipt(proposed, errors=DISCARD)
        assert (event.address, event.args.current, event.args.proposed) == (feed.proxy.address, old, new)
        [event] = feed.proxy.events.AggregatorConfirmed().process_receipt(confirmed, errors=DISCARD)
        assert (event.address, event.args.previous, event.args.latest) == (feed.proxy.address, old, new)
    else:  # the mainnet proxy says nothing: only the call and the proxy's state show the change
        assert proposed["logs"] == [] and confirmed["logs"] == []

    latest = feed.latest_round_data()
    assert (latest.round_id, latest.answer) == (proxy_round_id(2, 1), 3_060 * USD)
    feed.post_round(3_070 * USD)
    assert feed.latest_round_data().round_id == proxy_round_id(2, 2)
    # The old phase's rounds stay readable by their phase-encoded ids.
    assert feed.round_data(proxy_round_id(1, 2)).answer == 3_050 * USD
    assert feed.round_data(proxy_round_id(1, 1)).answer == 3_000 * USD


def test_only_the_owner_changes_the_aggregator(feed):
    new = feed.deploy_aggregator(answer=1)
    call = feed.proxy.functions.proposeAggregator(Web3.to_checksum_address(new))
    with pytest.raises(Exception, match="Only callable by owner"):
        call.call({"from": feed.accounts.attacker.address})
    assert feed.phase_id() == 1


def test_aave_prices_its_reserve_from_the_chainlink_proxy():
    """The two real protocols together: Aave's oracle reads the feed through the mainnet proxy."""
    with Anvil() as node:
        market = aave_on_anvil(node)
        feed = deploy_feed(node.url, answer=1 * USD, description="tUSD / USD")
        oracle = market.contract("AaveOracle")
        source = Web3.to_checksum_address(feed.proxy_address)
        market.send(oracle.functions.setAssetSources([market.asset], [source]), market.pool_admin)
        assert oracle.functions.getSourceOfAsset(market.asset).call() == source
        assert oracle.functions.getAssetPrice(market.asset).call() == 1 * USD

        feed.post_round(97 * USD // 100)  # a depeg reaches Aave's price at once
        assert oracle.functions.getAssetPrice(market.asset).call() == 97 * USD // 100


def test_the_compiled_output_is_read_back_from_disk(monkeypatch):
    compiled = chainlink.artifact("FluxAggregator")  # compiled once, or read from anvil/state/
    assert len(list(chainlink.STATE_DIR.glob("chainlink-v0.6-*.json"))) == 1

    def no_compiler(*args):
        raise ToolchainError("compiled again")

    chainlink._compile_folder.cache_clear()
    monkeypatch.setattr(chainlink, "_solc", no_compiler)
    assert chainlink.artifact("FluxAggregator") == compiled
