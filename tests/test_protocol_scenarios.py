"""Drill scenarios on the demo world: each attack pays the attacker when nobody reacts and is stopped by a pause
or a hardened configuration; honest traffic (including flash swaps and a liquidation) all succeeds."""

from __future__ import annotations

from web3.logs import DISCARD

from watchdog.devnet.world import E18, POOL_USD, PROTOCOL_SCOPE
from watchdog.scenarios import play_attack, play_traffic
from watchdog.scenarios.demo import (ADMIN_KEY, BENIGN_TRAFFIC, MALICIOUS_UPGRADE, ORACLE_DIVERGENCE, ORACLE_SWAP,
                                     SLOW_DRAIN, STALE_ORACLE, TWAP_MULTIBLOCK)


def _pause_vault(world) -> None:
    guardian = world.contract("Guardian")
    world.send(guardian.functions.pause(world.addresses["CollateralVault"], PROTOCOL_SCOPE, "drill"), "responder")


def test_slow_drain_takes_a_slice_per_block(world, anvil):
    result = play_attack(SLOW_DRAIN, world, rounds=3)
    rounds = result.payoffs
    assert len(rounds) == 3 and all(r.step.succeeded and r.profit > 50_000 * E18 for r in rounds)
    assert len({r.step.block for r in rounds}) == 3
    assert rounds[-1].pool_after == result.pool_after < POOL_USD - 3 * 50_000 * E18


def test_stale_oracle_attack_profits_only_without_a_staleness_bound(world, anvil):
    snapshot = anvil.snapshot()
    result = play_attack(STALE_ORACLE, world)
    assert result.succeeded and result.attacker_profit > 10_000 * E18 and result.pool_loss > 0
    anvil.revert(snapshot)
    world.governance_call("OracleAdapter", "setMaxStaleness", 3600)
    result = play_attack(STALE_ORACLE, world)
    assert not result.succeeded and result.attacker_profit <= 0 and result.pool_loss == 0


def test_oracle_divergence_attack_and_a_pause_before_the_close(world, anvil):
    snapshot = anvil.snapshot()
    result = play_attack(ORACLE_DIVERGENCE, world)
    assert result.succeeded and result.attacker_profit > 10_000 * E18
    anvil.revert(snapshot)
    _pause_vault(world)
    result = play_attack(ORACLE_DIVERGENCE, world)
    assert not result.succeeded and result.pool_loss == 0


def test_admin_key_drain_and_its_pause(world, anvil):
    snapshot = anvil.snapshot()
    result = play_attack(ADMIN_KEY, world)
    assert result.succeeded and result.attacker_profit == POOL_USD and result.pool_after == 0
    anvil.revert(snapshot)
    _pause_vault(world)
    result = play_attack(ADMIN_KEY, world)
    assert not result.succeeded and result.attacker_profit == 0 and result.pool_loss == 0


IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"


def test_malicious_upgrade_drains_the_pool_unless_paused(world, anvil):
    adapter = world.addresses["OracleAdapter"]
    snapshot = anvil.snapshot()
    result = play_attack(MALICIOUS_UPGRADE, world)
    assert result.succeeded and result.attacker_profit > POOL_USD // 2
    slot = world.w3.eth.get_storage_at(adapter, IMPLEMENTATION_SLOT)
    assert slot[-20:].hex() == result.attacker_contract[2:].lower()  # the proxy now runs the attacker's code
    upgrade = world.w3.eth.get_transaction_receipt(result.details["upgrade_tx"])
    upgraded = world.contract("OracleAdapter").events.Upgraded().process_receipt(upgrade, errors=DISCARD)
    assert upgraded[0]["args"]["implementation"] == result.attacker_contract
    anvil.revert(snapshot)
    _pause_vault(world)
    result = play_attack(MALICIOUS_UPGRADE, world)
    assert not result.succeeded and result.pool_loss == 0


def test_malicious_oracle_swap_drains_the_pool(world, anvil):
    result = play_attack(ORACLE_SWAP, world)
    assert result.succeeded and result.attacker_profit > POOL_USD // 2
    assert world.contract("PerpMarket").functions.oracle().call() == result.attacker_contract


def test_twap_attack_needs_many_blocks_and_is_stopped_by_a_pause_in_between(world, anvil):
    snapshot = anvil.snapshot()
    result = play_attack(TWAP_MULTIBLOCK, world)
    assert result.succeeded and result.attacker_profit > 0
    open_block = world.w3.eth.get_transaction_receipt(result.details["open_tx"])["blockNumber"]
    assert result.block_number - open_block >= 3  # the position had to be held across blocks
    anvil.revert(snapshot)
    world.set_oracle_source("twap")
    _pause_vault(world)
    result = play_attack(TWAP_MULTIBLOCK, world)
    assert not result.succeeded and result.pool_loss == 0


def test_benign_traffic_all_succeeds(world, anvil):
    traffic = play_traffic(BENIGN_TRAFFIC, world, rounds=6, volatile=True)
    assert traffic.count("flash_swap_arbitrage") >= 1
    assert traffic.count("liquidation") == 1
    assert traffic.count("open") >= 2 and traffic.count("swap") >= 6
    for kind, hashes in traffic.txs.items():
        for tx_hash in hashes:
            assert world.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1, kind
    assert world.contract("CollateralVault").functions.poolAssets().call() > POOL_USD * 9 // 10


def test_benign_traffic_again_after_a_revert(world, anvil):
    """The arbitrage bot deployed by an earlier (reverted) test is redeployed, not called at an empty address."""
    traffic = play_traffic(BENIGN_TRAFFIC, world, rounds=3)
    assert traffic.count("flash_swap_arbitrage") >= 1
    bot = world.helpers["FlashSwapArbitrageur"]
    assert world.w3.eth.get_code(bot)
