"""The demo perpetuals protocol: honest trading settles correctly, the flagship flash-loan spot-price exploit
drains the pool when nobody pauses, and fails once the guardian has paused (or governance hardened the oracle)."""

from __future__ import annotations

from eth_utils import keccak
from web3.logs import DISCARD

from watchdog.devnet.world import E18, POOL_USD, PROTOCOL_SCOPE, SCOPES, World
from watchdog.scenarios import play_attack
from watchdog.scenarios.demo import FLASH_LOAN_DRAIN

AAVE_V3_FLASH_LOAN = keccak(text="FlashLoan(address,address,address,uint256,uint8,uint256,uint16)")


def _vault_solvent(world: World) -> bool:
    vault, usd = world.contract("CollateralVault"), world.contract("dUSD")
    held = usd.functions.balanceOf(vault.address).call()
    owed = sum(vault.functions[f]().call() for f in ("totalFree", "lockedMargin", "poolAssets"))
    return held >= owed


def _swap(world: World, who: str, weth_in: int) -> None:
    weth, router = world.contract("WETH"), world.contract("UniswapV2Router02")
    world.send(weth.functions.deposit(), who, value=weth_in)
    world.send(weth.functions.approve(router.address, weth_in), who)
    path = [world.addresses["WETH"], world.addresses["dUSD"]]
    world.send(router.functions.swapExactTokensForTokens(weth_in, 0, path, world.accounts[who].address, 2**40), who)


def test_honest_long_settles_pnl_against_the_pool(world, anvil):
    market, vault, adapter = world.contract("PerpMarket"), world.contract("CollateralVault"), world.contract("OracleAdapter")
    trader = world.accounts.trader1.address
    free_before = vault.functions.balanceOf(trader).call()
    entry = adapter.functions.price().call()
    world.send(market.functions.openPosition(10 * E18, 10_000 * E18), "trader1")
    assert vault.functions.lockedMargin().call() == 10_000 * E18
    _swap(world, "keeper", 20 * E18)  # the price falls: the long loses
    exit_price = adapter.functions.price().call()
    assert exit_price < entry
    receipt = world.send(market.functions.closePosition(), "trader1")
    closed = market.events.PositionClosed().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert closed["pnl"] == 10 * (exit_price - entry)
    fee = closed["fee"]
    assert vault.functions.balanceOf(trader).call() == free_before + closed["pnl"] - fee
    assert vault.functions.poolAssets().call() == POOL_USD - closed["pnl"] + fee
    assert _vault_solvent(world)


def test_flagship_exploit_drains_the_pool_without_a_pause(world, anvil):
    result = play_attack(FLASH_LOAN_DRAIN, world)
    assert result.succeeded
    assert result.attacker_profit > POOL_USD // 2
    assert result.pool_after < POOL_USD // 100
    receipt = world.w3.eth.get_transaction_receipt(result.tx_hash)
    flash = [log for log in receipt["logs"] if log["topics"][0] == AAVE_V3_FLASH_LOAN]
    assert len(flash) == 1 and flash[0]["address"] == world.addresses["FlashLender"]
    assert _vault_solvent(world)


def test_flagship_exploit_fails_after_a_guardian_pause(world, anvil):
    guardian = world.contract("Guardian")
    world.send(guardian.functions.pause(world.addresses["PerpMarket"], SCOPES["ETH-USD"], "spot manipulation"), "responder")
    result = play_attack(FLASH_LOAN_DRAIN, world)
    assert not result.succeeded
    assert result.attacker_profit == 0
    assert result.pool_after == result.pool_before == POOL_USD


def test_flagship_exploit_fails_after_a_protocol_pause(world, anvil):
    guardian = world.contract("Guardian")
    world.send(guardian.functions.pause(world.addresses["CollateralVault"], PROTOCOL_SCOPE, "spot manipulation"), "responder")
    result = play_attack(FLASH_LOAN_DRAIN, world)
    assert not result.succeeded and result.attacker_profit == 0 and result.pool_loss == 0


def test_flagship_exploit_fails_against_the_twap_configuration(world, anvil):
    world.set_oracle_source("twap")
    assert world.contract("OracleAdapter").functions.source().call() == 1
    result = play_attack(FLASH_LOAN_DRAIN, world)
    assert not result.succeeded and result.attacker_profit == 0 and result.pool_loss == 0
