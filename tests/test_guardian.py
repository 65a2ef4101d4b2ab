"""The guardian against the real protocol and the real Safe: scoped pauses stop value movement, the guardian can
never unpause, governance (2 of 3 Safe owners) can, pauses expire, and responders are gated and rate-limited."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from watchdog.devnet.safe import SafeTx
from watchdog.chain.abi import selector as error_selector
from watchdog.devnet.txs import revert_data
from watchdog.devnet.world import E18, PAUSE_DURATION, PROTOCOL_SCOPE, SCOPES, World
from watchdog.errors import RpcError

ENFORCED_PAUSE = error_selector("EnforcedPause(bytes32)")
MARKET = SCOPES["ETH-USD"]


def _pause(world: World, name: str, scope: str, reason: str = "test", responder: str = "responder") -> dict:
    guardian = world.contract("Guardian")
    return world.send(guardian.functions.pause(world.addresses[name], scope, reason), responder)


def _warp(anvil, seconds: int) -> None:
    anvil.rpc("evm_increaseTime", [seconds])
    anvil.mine()


def _make_liquidatable_position(world: World) -> None:
    """trader2 opens a 10x long, then a large WETH sale on the AMM moves the spot price down ~11%."""
    market, weth, router = world.contract("PerpMarket"), world.contract("WETH"), world.contract("UniswapV2Router02")
    world.send(market.functions.openPosition(150 * E18, 50_000 * E18), "trader2")
    world.send(weth.functions.deposit(), "keeper", value=60 * E18)
    world.send(weth.functions.approve(router.address, 60 * E18), "keeper")
    path = [world.addresses["WETH"], world.addresses["dUSD"]]
    world.send(router.functions.swapExactTokensForTokens(60 * E18, 0, path, world.accounts.keeper.address, 2**40), "keeper")
    assert market.functions.isLiquidatable(world.accounts.trader2.address).call()


def _value_moving_calls(world: World) -> dict[str, tuple]:
    """Every value-moving function of the protocol, each with a sender for which it succeeds right now."""
    vault, market, usd = world.contract("CollateralVault"), world.contract("PerpMarket"), world.contract("dUSD")
    lp, trader1, trader2, keeper = (world.accounts[n] for n in ("lp", "trader1", "trader2", "keeper"))
    world.send(usd.functions.mint(lp.address, 10_000 * E18), "deployer")
    world.send(usd.functions.approve(vault.address, 2**256 - 1), lp)
    world.send(vault.functions.deposit(5_000 * E18), lp)
    world.send(market.functions.openPosition(5 * E18, 10_000 * E18), trader1)
    _make_liquidatable_position(world)
    calls = {
        "deposit": (vault.functions.deposit(1_000 * E18), trader1),
        "withdraw": (vault.functions.withdraw(1_000 * E18), trader1),
        "addLiquidity": (vault.functions.addLiquidity(1_000 * E18), lp),
        "removeLiquidity": (vault.functions.removeLiquidity(vault.functions.sharesOf(lp.address).call() // 10), lp),
        "openPosition": (market.functions.openPosition(-E18, 1_000 * E18), lp),
        "closePosition": (market.functions.closePosition(), trader1),
        "liquidate": (market.functions.liquidate(trader2.address), keeper),
    }
    for name, (call, sender) in calls.items():
        assert revert_data(call, sender) is None, f"{name} should work before any pause"
    return calls


def _assert_paused(calls: dict[str, tuple], names: set[str]) -> None:
    for name, (call, sender) in calls.items():
        data = revert_data(call, sender)
        if name in names:
            assert data is not None and data.startswith(ENFORCED_PAUSE), f"{name} still works while paused ({data})"
        else:
            assert data is None, f"{name} should not be affected ({data})"


def test_protocol_pause_stops_every_value_moving_function(world, anvil):
    calls = _value_moving_calls(world)
    receipt = _pause(world, "CollateralVault", PROTOCOL_SCOPE, "flash-loan price manipulation")

    guardian, vault = world.contract("Guardian"), world.contract("CollateralVault")
    event = guardian.events.Paused().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert event["target"] == vault.address and event["scope"] == bytes(32)
    assert event["responder"] == world.accounts.responder.address
    assert event["reason"] == "flash-loan price manipulation"
    assert guardian.functions.isPaused(vault.address, PROTOCOL_SCOPE).call()
    assert vault.functions.paused().call()
    _assert_paused(calls, set(calls))


def test_market_pause_stops_trading_and_liquidations_only(world, anvil):
    calls = _value_moving_calls(world)
    _pause(world, "PerpMarket", MARKET, "oracle deviation on ETH-USD")
    assert world.contract("Guardian").functions.isPaused(world.addresses["PerpMarket"], MARKET).call()
    _assert_paused(calls, {"openPosition", "closePosition", "liquidate"})


def test_function_group_pause_is_scoped(world, anvil):
    calls = _value_moving_calls(world)
    _pause(world, "CollateralVault", SCOPES["WITHDRAWALS"], "drain in progress")
    _assert_paused(calls, {"withdraw", "removeLiquidity"})


def test_pausing_a_paused_scope_is_a_recognisable_no_op(world, anvil):
    guardian = world.contract("Guardian")
    _pause(world, "CollateralVault", PROTOCOL_SCOPE)
    until = guardian.functions.pausedUntil(world.addresses["CollateralVault"], PROTOCOL_SCOPE).call()
    left = guardian.functions.pausesLeft(world.accounts.responder.address).call()
    receipt = _pause(world, "CollateralVault", PROTOCOL_SCOPE, "second responder")
    assert receipt["status"] == 1
    assert guardian.events.Paused().process_receipt(receipt, errors=DISCARD) == ()
    skipped = guardian.events.PauseSkipped().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert skipped["until"] == until and skipped["reason"] == "second responder"
    assert guardian.functions.pausesLeft(world.accounts.responder.address).call() == left


def test_guardian_cannot_unpause(world, anvil):
    _pause(world, "CollateralVault", PROTOCOL_SCOPE)
    vault, guardian = world.contract("CollateralVault"), world.contract("Guardian")
    assert not any(item.get("name", "").lower().startswith("unpause") for item in guardian.abi)
    # the responder calling the protocol directly, and the guardian's address as a caller, both revert
    with pytest.raises(RpcError):
        world.send(vault.functions.unpause(PROTOCOL_SCOPE), "responder", gas=200_000)
    assert revert_data(vault.functions.unpause(PROTOCOL_SCOPE), world.accounts.responder) is not None
    # an `unpause(bytes32)` call sent to the guardian itself finds no such function and reverts
    tx_hash = world.w3.eth.send_transaction({"from": world.accounts.responder.address, "to": guardian.address,
                                             "gas": 200_000, "data": vault.encode_abi("unpause", [PROTOCOL_SCOPE])})
    assert world.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 0
    # a pause can only be lengthened, never shortened, by the pauser
    with pytest.raises(RpcError):
        world.send(vault.functions.pause(PROTOCOL_SCOPE, 1), "responder", gas=200_000)
    assert vault.functions.paused().call()


def test_safe_with_two_signatures_unpauses(world, anvil):
    _pause(world, "CollateralVault", PROTOCOL_SCOPE)
    vault, safe = world.contract("CollateralVault"), world.contract("Safe")
    data = vault.encode_abi("unpause", [PROTOCOL_SCOPE])
    tx = SafeTx(safe.address, world.w3.eth.chain_id, vault.address, bytes.fromhex(data[2:]), safe.functions.nonce().call())
    onchain = safe.functions.getTransactionHash(vault.address, 0, tx.data, 0, 0, 0, 0, "0x" + "00" * 20, "0x" + "00" * 20,
                                                tx.nonce).call()
    assert onchain == tx.hash()

    with pytest.raises(RpcError):  # one signature is below the threshold
        world.safe_exec(vault.address, data, signers=[world.accounts.owner1])
    assert vault.functions.paused().call()
    receipt = world.safe_exec(vault.address, data, signers=[world.accounts.owner3, world.accounts.owner1])
    assert safe.events.ExecutionSuccess().process_receipt(receipt, errors=DISCARD)
    assert not vault.functions.paused().call()
    assert revert_data(vault.functions.deposit(E18), world.accounts.trader1) is None


def test_liquidations_wait_out_a_grace_period_after_the_unpause(world, anvil):
    calls = _value_moving_calls(world)
    liquidate, keeper = calls["liquidate"]
    _pause(world, "CollateralVault", PROTOCOL_SCOPE)
    world.governance_call("CollateralVault", "unpause", PROTOCOL_SCOPE)
    data = revert_data(liquidate, keeper)
    assert data is not None and data.startswith(error_selector("LiquidationGrace(uint256)"))
    assert revert_data(calls["closePosition"][0], calls["closePosition"][1]) is None  # traders may act at once
    _warp(anvil, world.contract("PerpMarket").functions.liquidationGracePeriod().call())
    assert revert_data(liquidate, keeper) is None


def test_pause_expires_and_only_governance_extends(world, anvil):
    vault, guardian = world.contract("CollateralVault"), world.contract("Guardian")
    receipt = _pause(world, "CollateralVault", PROTOCOL_SCOPE)
    until = guardian.events.Paused().process_receipt(receipt, errors=DISCARD)[0]["args"]["until"]
    started = world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert until == started + PAUSE_DURATION

    with pytest.raises(RpcError):  # a responder cannot extend
        world.send(guardian.functions.extendPause(vault.address, PROTOCOL_SCOPE, until + 3600, "more"), "responder", gas=300_000)
    _warp(anvil, PAUSE_DURATION - 60)
    assert vault.functions.paused().call()
    _warp(anvil, 120)
    assert not vault.functions.paused().call()
    assert revert_data(vault.functions.deposit(E18), world.accounts.trader1) is None

    # paused again, then governance extends beyond the responder's bound
    receipt = _pause(world, "CollateralVault", PROTOCOL_SCOPE)
    until = guardian.events.Paused().process_receipt(receipt, errors=DISCARD)[0]["args"]["until"]
    world.governance_call("Guardian", "extendPause", vault.address, bytes(32), until + 7 * 86400, "investigation")
    _warp(anvil, PAUSE_DURATION + 3600)
    assert vault.functions.paused().call()
    with pytest.raises(RpcError):  # extensions are bounded too
        world.governance_call("Guardian", "extendPause", vault.address, bytes(32), until + 365 * 86400, "forever")


def test_only_responders_pause_and_they_are_rate_limited(world, anvil):
    guardian = world.contract("Guardian")
    with pytest.raises(RpcError):
        _pause(world, "CollateralVault", PROTOCOL_SCOPE, responder="attacker")
    with pytest.raises(RpcError):  # nobody but the guardian (and governance) may call the target's pause
        world.send(world.contract("CollateralVault").functions.pause(PROTOCOL_SCOPE, 2**40), "responder", gas=200_000)
    max_pauses, window = guardian.functions.maxPausesPerWindow().call(), guardian.functions.rateWindow().call()
    scopes = [SCOPES["DEPOSITS"], SCOPES["WITHDRAWALS"], PROTOCOL_SCOPE, SCOPES["TRADING"]]
    targets = ["CollateralVault", "CollateralVault", "PerpMarket", "PerpMarket"]
    for target, scope in list(zip(targets, scopes))[:max_pauses]:
        _pause(world, target, scope)
    with pytest.raises(RpcError):
        _pause(world, targets[max_pauses], scopes[max_pauses])
    assert guardian.functions.pausesLeft(world.accounts.responder.address).call() == 0
    _warp(anvil, window)
    _pause(world, targets[max_pauses], scopes[max_pauses])
