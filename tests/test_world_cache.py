"""The world state cache: a fresh anvil loads the cached deployment instead of redeploying, with the same
addresses and a working protocol."""

from __future__ import annotations

import json
import time

from watchdog.devnet import Anvil, cache
from watchdog.devnet.world import E18
from watchdog.scenarios import ImmediatePlayer, play_attack
from watchdog.scenarios.demo import FLASH_LOAN_DRAIN, spot_price, update_twap


def test_second_fresh_chain_loads_the_cached_world(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "state")
    with Anvil() as first:
        deployed = cache.world_on_anvil(first, tmp_path / "one")
    entries = list((tmp_path / "state").iterdir())
    assert len(entries) == 1 and (entries[0] / "state.hex").exists()

    with Anvil() as second:
        loaded = cache.world_on_anvil(second, tmp_path / "two")
        assert second.block_number() == deployed.manifest.block
        assert loaded.addresses == deployed.addresses
        assert json.loads(loaded.manifest_path.read_text()) == json.loads(deployed.manifest_path.read_text())
        assert loaded.manifest.abi_of(loaded.manifest.by_name("PerpMarket"))
        result = play_attack(FLASH_LOAN_DRAIN, loaded)  # the loaded chain is the real, working deployment
        assert result.succeeded and result.attacker_profit > 0


def test_a_loaded_world_keeps_its_clock_and_trades_on_the_twap(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "state")
    ahead = int(time.time()) + 86_400  # a dump whose chain time runs ahead of the wall clock, as the deployment's warps do
    with Anvil(extra_args=("--timestamp", str(ahead))) as first:
        cache.world_on_anvil(first, tmp_path / "one")

    with Anvil() as second:
        world = cache.world_on_anvil(second, tmp_path / "two")
        loaded = second.block_number()
        assert world.w3.eth.get_block(loaded)["timestamp"] > ahead
        second.mine(3)
        times = [world.w3.eth.get_block(n)["timestamp"] for n in range(loaded, loaded + 4)]
        assert times == sorted(times) and times[1] > times[0], f"block times went backwards: {times}"

        world.set_oracle_source("twap")
        keeper = ImmediatePlayer(world)
        keeper.pass_time("a TWAP window passes", world.contract("TwapOracle").functions.period().call())
        assert update_twap(keeper) is not None  # a window closed over the loaded chain's clock
        twap = world.contract("OracleAdapter").functions.price().call()
        assert abs(twap - spot_price(world)) * 100 < spot_price(world)  # a sane average, not a wrapped cumulative
        trader = world.accounts.traders[0]
        market = world.contract("PerpMarket")
        world.send(market.functions.openPosition(E18, 5_000 * E18), trader)  # reverted with LeverageTooHigh before
        assert market.functions.positionOf(trader.address).call()[0] == E18


def test_a_used_chain_is_deployed_on_not_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "state")
    with Anvil() as node:
        node.mine(3)
        world = cache.world_on_anvil(node, tmp_path / "w")
        assert world.manifest.block > 3
    assert not (tmp_path / "state").exists()


def test_a_damaged_entry_is_replaced_by_a_deployment(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "state")
    entry = tmp_path / "state" / cache.cache_key()
    (entry / "world").mkdir(parents=True)
    (entry / "state.hex").write_text("0xnot-a-state-dump")
    with Anvil() as node:
        world = cache.world_on_anvil(node, tmp_path / "w")
        assert world.w3.eth.get_code(world.addresses["PerpMarket"])
    assert (entry / "state.hex").read_text() != "0xnot-a-state-dump"
