"""Aave V3 core from the @aave/core-v3 npm bytecode on a real anvil: the emergency admin pauses the pool or one
reserve through the PoolConfigurator, the paused bit of the reserve configuration is set and supplies revert;
nobody else can pause; unpaused, supplying and withdrawing work."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from eth_abi import decode
from web3.logs import DISCARD

from watchdog.devnet import Anvil
from watchdog.devnet.aave import PAUSED_BIT, RESERVES, AaveMarket, aave_on_anvil
from typer.testing import CliRunner

from watchdog.cli import app
from watchdog.detect.model import ProtocolModel
from watchdog.devnet.txs import revert_data
from watchdog.manifest import load_manifest

# Aave's error codes (Errors.sol): reverts carry Error(string) with the code.
CALLER_NOT_EMERGENCY_ADMIN, CALLER_NOT_POOL_OR_EMERGENCY_ADMIN, RESERVE_PAUSED = "2", "3", "29"
AMOUNT = 1_000 * 10**18


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    with Anvil() as anvil:
        yield anvil


@pytest.fixture(scope="module")
def deployed(node: Anvil) -> AaveMarket:
    return aave_on_anvil(node)


@pytest.fixture
def market(node: Anvil, deployed: AaveMarket) -> Iterator[AaveMarket]:
    """The market, with every change a test makes reverted afterwards."""
    snapshot = node.snapshot()
    yield deployed
    node.revert(snapshot)


def paused_bit(market: AaveMarket, asset: str) -> int:
    """Bit 60 of Pool.getReserveData(asset).configuration, read directly."""
    configuration = market.contract("Pool").functions.getReserveData(asset).call()[0][0]
    return configuration >> PAUSED_BIT & 1


def revert_reason(market: AaveMarket, call, sender: str) -> str | None:
    data = revert_data(call, market.accounts[sender])
    if data is None:
        return None
    assert data.startswith("0x08c379a0"), f"not an Error(string) revert: {data}"
    return decode(["string"], bytes.fromhex(data[10:]))[0]


def supply(market: AaveMarket, asset: str, amount: int = AMOUNT):
    return market.contract("Pool").functions.supply(asset, amount, market.accounts.trader1.address, 0)


def test_the_market_is_deployed_with_active_unpaused_reserves_and_an_emergency_admin(market, tmp_path):
    provider, acl = market.contract("PoolAddressesProvider"), market.contract("ACLManager")
    assert provider.functions.getPool().call() == market.addresses["Pool"]
    assert provider.functions.getPoolConfigurator().call() == market.configurator
    assert provider.functions.getACLManager().call() == market.addresses["ACLManager"]
    assert market.contract("Pool").functions.getReservesList().call() == list(market.reserves.values())
    for asset in market.reserves.values():
        flags = market.reserve_flags(asset)
        assert flags.active and not flags.frozen and not flags.paused and paused_bit(market, asset) == 0
    assert acl.functions.isEmergencyAdmin(market.emergency_admin.address).call()
    assert acl.functions.isPoolAdmin(market.pool_admin.address).call()
    assert not acl.functions.isEmergencyAdmin(market.accounts.attacker.address).call()
    # The liquidity provider's deposit sits in the aToken.
    assert market.contract("tUSD").functions.balanceOf(market.addresses["atUSD"]).call() == 1_000_000 * 10**18

    manifest = load_manifest(market.write_manifest(tmp_path))
    roles = {entry.name: entry.role for entry in manifest.contracts}
    assert roles == {"PoolAddressesProvider": "other", "ACLManager": "other", "Pool": "lending",
                     "PoolConfigurator": "other", "AaveOracle": "other", "tUSD": "token", "atUSD": "vault",
                     "tETH": "token", "atETH": "vault"}
    assert manifest.chain_id == 31337 and manifest.block == market.block
    pool_abi = manifest.abi_of(manifest.by_name("Pool"))
    assert any(item.get("name") == "supply" for item in pool_abi)


def test_the_emergency_admin_pauses_every_reserve_and_supplies_revert(market):
    configurator = market.contract("PoolConfigurator")
    receipt = market.send(configurator.functions.setPoolPause(True), market.emergency_admin)

    events = configurator.events.ReservePaused().process_receipt(receipt, errors=DISCARD)
    assert {(e.args.asset, e.args.paused) for e in events} == {(a, True) for a in market.reserves.values()}
    for asset in market.contract("Pool").functions.getReservesList().call():
        assert paused_bit(market, asset) == 1 and market.reserve_flags(asset).paused
        assert revert_reason(market, supply(market, asset), "trader1") == RESERVE_PAUSED


def test_the_emergency_admin_pauses_one_reserve(market):
    configurator = market.contract("PoolConfigurator")
    paused, other = market.reserves["tUSD"], market.reserves["tETH"]
    receipt = market.send(configurator.functions.setReservePause(paused, True), market.emergency_admin)

    [event] = configurator.events.ReservePaused().process_receipt(receipt, errors=DISCARD)
    assert event.address == market.configurator and (event.args.asset, event.args.paused) == (paused, True)
    assert paused_bit(market, paused) == 1
    assert revert_reason(market, supply(market, paused), "trader1") == RESERVE_PAUSED
    assert paused_bit(market, other) == 0  # the other reserve still works
    assert revert_reason(market, supply(market, other, 10**18), "trader1") is None


def test_an_account_without_the_role_cannot_pause(market):
    configurator = market.contract("PoolConfigurator")
    assert revert_reason(market, configurator.functions.setPoolPause(True), "attacker") == CALLER_NOT_EMERGENCY_ADMIN
    assert revert_reason(market, configurator.functions.setReservePause(market.asset, True), "attacker") == \
        CALLER_NOT_POOL_OR_EMERGENCY_ADMIN
    assert all(paused_bit(market, asset) == 0 for asset in market.reserves.values())


def test_supply_and_withdraw_work_while_unpaused(market):
    """The benign twin: users supply and withdraw, and nothing pauses."""
    pool, token, a_token = market.contract("Pool"), market.contract("tUSD"), market.contract("atUSD")
    trader = market.accounts.trader1.address
    before = token.functions.balanceOf(trader).call()

    receipt = market.send(supply(market, market.asset), "trader1")
    assert token.functions.balanceOf(trader).call() == before - AMOUNT
    assert a_token.functions.balanceOf(trader).call() >= AMOUNT - 1  # scaled balance, rounded
    market.send(pool.functions.withdraw(market.asset, 2**256 - 1, trader), "trader1")  # max: the whole balance

    assert token.functions.balanceOf(trader).call() >= before - 1
    assert a_token.functions.balanceOf(trader).call() == 0
    assert not market.contract("PoolConfigurator").events.ReservePaused().process_receipt(receipt, errors=DISCARD)
    assert not market.reserve_flags().paused


def test_the_model_learns_what_each_atoken_holds_and_counts_in_dollars(market, tmp_path):
    """With the roles alone, each aToken is found to hold its reserve's underlying (its UNDERLYING_ASSET_ADDRESS
    view), to issue its own claims, and the books are counted in the dollar reserve, not in a receipt token."""
    args = ["--manifest", str(market.write_manifest(tmp_path)), "--rpc", market.rpc_url]
    shown = CliRunner().invoke(app, ["protocol", "show", *args, "--json"])
    assert shown.exit_code == 0, shown.output
    model = ProtocolModel.from_json(json.loads(shown.stdout))
    assert model.quote == market.reserves["tUSD"].lower()
    for symbol, underlying in market.reserves.items():
        holder = model.holders[market.addresses[f"a{symbol}"].lower()]
        assert holder.claim_token == holder.address and holder.accounting == underlying.lower()
        assert holder.holds[underlying.lower()] == RESERVES[symbol].lp_supply * 10**18
        assert holder.links == {market.addresses["Pool"].lower(): "POOL"}


def test_a_whale_taking_most_of_a_reserves_cash_is_not_a_finding(market, tmp_path):
    """The liquidity provider withdraws 90% of each reserve and a borrower borrows and repays: honest days on
    a lending market, replayed through every rule, raise nothing of medium severity or above."""
    pool, lp, trader = market.contract("Pool"), market.accounts.lp.address, market.accounts.trader1.address
    start = market.w3.eth.block_number + 1
    market.send(pool.functions.supply(market.reserves["tETH"], 40 * 10**18, trader, 0), "trader1")
    market.send(pool.functions.borrow(market.asset, 50_000 * 10**18, 2, 0, trader), "trader1")
    market.send(pool.functions.repay(market.asset, 20_000 * 10**18, 2, trader), "trader1")
    for symbol, asset in market.reserves.items():
        market.send(pool.functions.withdraw(asset, RESERVES[symbol].lp_supply * 9 // 10 * 10**18, lp), "lp")
    args = ["--manifest", str(market.write_manifest(tmp_path)), "--rpc", market.rpc_url]
    replayed = CliRunner().invoke(app, ["replay", *args, "--range", f"{start}:{market.w3.eth.block_number}", "--json"])
    assert replayed.exit_code == 0, replayed.output
    assert [f for f in json.loads(replayed.stdout) if f["severity"] not in ("info", "low")] == []


def test_a_fresh_chain_loads_the_cached_market(deployed):
    """A second fresh anvil gets the same market from the state cache, and it works."""
    with Anvil() as other:
        loaded = aave_on_anvil(other)
        assert other.block_number() == deployed.block == loaded.block
        assert loaded.addresses == deployed.addresses
        loaded.send(supply(loaded, loaded.asset), "trader1")
        assert loaded.contract("atUSD").functions.balanceOf(loaded.accounts.trader1.address).call() >= AMOUNT - 1
