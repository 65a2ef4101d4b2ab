"""The demo oracles: the Chainlink-compatible feed, the TWAP over the real Uniswap V2 pair, and the adapter's
source switch and staleness bound."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from web3.logs import DISCARD

from watchdog.chain.abi import selector as error_selector
from watchdog.devnet.txs import revert_data
from watchdog.devnet.world import E18, ETH_PRICE, TWAP_PERIOD
from watchdog.errors import RpcError
from watchdog.scenarios import ImmediatePlayer
from watchdog.scenarios.demo import push_feed, spot_price, swap, update_twap


def _set_next_timestamp(anvil, timestamp: int) -> None:
    anvil.rpc("evm_setNextBlockTimestamp", [timestamp])


def test_feed_speaks_chainlink(world, anvil):
    feed = world.contract("ETH-USD-Feed")
    assert feed.functions.decimals().call() == 8
    round_id = feed.functions.latestRound().call()
    receipt = world.send(feed.functions.updateAnswer(3_100 * 10**8), "keeper")
    topics = {log["topics"][0] for log in receipt["logs"]}
    assert keccak(text="AnswerUpdated(int256,uint256,uint256)") in topics
    assert keccak(text="NewRound(uint256,address,uint256)") in topics
    rid, answer, started, updated, answered_in = feed.functions.latestRoundData().call()
    assert (rid, answer, answered_in) == (round_id + 1, 3_100 * 10**8, round_id + 1)
    assert updated == world.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == started
    assert feed.functions.getRoundData(round_id).call()[1] == ETH_PRICE * 10**8
    with pytest.raises(RpcError):  # only the keeper (and governance) publish
        world.send(feed.functions.updateAnswer(1), "attacker")


def test_twap_is_the_time_weighted_average_of_the_pair(world, anvil):
    twap, adapter = world.contract("TwapOracle"), world.contract("OracleAdapter")
    start = world.w3.eth.get_block("latest")["timestamp"] + TWAP_PERIOD
    _set_next_timestamp(anvil, start)
    keeper = ImmediatePlayer(world)
    assert update_twap(keeper)  # closes the window that began at deployment
    assert twap.functions.averageUpdatedAt().call() == start
    assert twap.functions.price().call() == ETH_PRICE * E18

    weth, router = world.contract("WETH"), world.contract("UniswapV2Router02")
    world.send(weth.functions.deposit(), "trader1", value=100 * E18)
    world.send(weth.functions.approve(router.address, 100 * E18), "trader1")
    _set_next_timestamp(anvil, start + 100)  # the swap's block: price P1 from then on, P0 before
    path = [world.addresses["WETH"], world.addresses["dUSD"]]
    world.send(router.functions.swapExactTokensForTokens(100 * E18, 0, path, world.accounts.trader1.address, 2**40), "trader1")
    low = spot_price(world)
    assert adapter.functions.twapPrice().call() == ETH_PRICE * E18  # one block of spot does not move it
    _set_next_timestamp(anvil, start + 400)
    update = update_twap(keeper)
    assert update is not None
    expected = (ETH_PRICE * E18 * 100 + low * 300) // 400
    assert abs(twap.functions.price().call() - expected) <= expected // 10**9
    event = twap.events.Updated().process_receipt(world.w3.eth.get_transaction_receipt(update.tx_hash), errors=DISCARD)
    assert event[0]["args"]["window"] == 400


def test_twap_window_must_elapse(world, anvil):
    twap = world.contract("TwapOracle")
    start = world.w3.eth.get_block("latest")["timestamp"] + TWAP_PERIOD
    _set_next_timestamp(anvil, start)
    keeper = ImmediatePlayer(world)
    assert update_twap(keeper)
    assert update_twap(keeper) is None  # too early: a no-op, not a revert
    assert twap.functions.averageUpdatedAt().call() == start


def test_adapter_source_switch_and_staleness_bound(world, anvil):
    adapter = world.contract("OracleAdapter")
    swap(ImmediatePlayer(world), "trader1", "WETH", 50 * E18)
    spot = adapter.functions.spotPrice().call()
    assert adapter.functions.price().call() == spot < ETH_PRICE * E18
    world.set_oracle_source("feed")
    assert adapter.functions.price().call() == ETH_PRICE * E18
    with pytest.raises(RpcError):  # only governance switches
        world.send(adapter.functions.setSource(0), "attacker")
    world.governance_call("OracleAdapter", "setMaxStaleness", 600)
    anvil.rpc("evm_increaseTime", [601])
    anvil.mine()
    data = revert_data(adapter.functions.price(), world.accounts.trader1)
    assert data is not None and data.startswith(error_selector("StalePrice(uint256,uint256)"))
    push_feed(ImmediatePlayer(world))
    assert adapter.functions.price().call() == spot // 10**10 * 10**10
