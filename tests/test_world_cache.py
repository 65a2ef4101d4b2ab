"""The world state cache: a fresh anvil loads the cached deployment instead of redeploying, with the same
addresses and a working protocol."""

from __future__ import annotations

import json

from watchdog.devnet import Anvil, cache
from watchdog.devnet.scenarios import flash_loan_spot_attack


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
        result = flash_loan_spot_attack(loaded)  # the loaded chain is the real, working deployment
        assert result.succeeded and result.attacker_profit > 0


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
