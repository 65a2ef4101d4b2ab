"""The core rules against the demo world (real Uniswap V2, Safe, guardian, perp market): the flagship flash-loan
spot-price attack and a hostile governance takeover are flagged above the pause threshold; a legit flash-swap
arbitrage, an honest large withdrawal, an honest 12 % feed move, a routine governance parameter change and a
session of benign traffic (with a sell-off and a liquidation) stay below it."""

from __future__ import annotations

from pathlib import Path

from fixtures.detect.kit import follow_manifest

from watchdog.chain.abi import AbiRegistry
from watchdog.pipeline.mempool import MempoolFollower
from watchdog.chain.rpc import RpcClient
from watchdog.detect import PAUSE_SEVERITY, Engine, Severity
from watchdog.devnet.world import E18
from watchdog.manifest import load_manifest
from watchdog.scenarios import ImmediatePlayer, play_attack, play_traffic
from watchdog.scenarios.demo import (ADMIN_KEY, BENIGN_TRAFFIC, FLASH_LOAN_DRAIN, arbitrage, deploy_flash_loan_attacker,
                                     push_feed, send_flash_loan_spot_attack, spot_price, swap)
from watchdog.store import Store


def detect(world, tmp_path: Path, first: int, **kw):
    return follow_manifest(world.rpc_url, world.manifest_path, tmp_path, first, world.w3.eth.block_number, **kw)


def family(record) -> str:
    """The rule a finding comes from (`drain` for `drain.tx`)."""
    return record.rule_id.split(".")[0]


def alarming(records) -> list:
    return [(r.rule_id, r.severity, r.title) for r in records if Severity(r.severity) >= PAUSE_SEVERITY]


def test_flagship_flash_loan_spot_attack(world, anvil, tmp_path):
    first = world.w3.eth.block_number + 1
    attack = play_attack(FLASH_LOAN_DRAIN, world)
    assert attack.succeeded and attack.attacker_profit > 0
    records = [r for r in detect(world, tmp_path, first) if r.tx_hash == attack.tx_hash]
    severities = {(r.rule_id, r.severity) for r in records}
    assert {("flash-loan.protocol", "critical"), ("price-manipulation.round-trip", "critical"), ("drain.tx", "critical")} <= severities
    flash = next(r for r in records if r.rule_id == "flash-loan.protocol")
    assert "PerpMarket" in flash.evidence["protocol_contracts"]
    assert flash.evidence["profit_estimate"] > 100_000 and flash.protocol == "demo-perps"


def test_legit_flash_swap_arbitrage(world, anvil, tmp_path):
    first = world.w3.eth.block_number + 1
    play = ImmediatePlayer(world)
    swap(play, "trader1", "WETH", 40 * E18)  # opens a gap between the two venues
    step = arbitrage(play)
    assert step is not None
    tx = step.tx_hash
    records = detect(world, tmp_path, first)
    assert [(r.rule_id, r.evidence["loans"][0]["kind"]) for r in records if r.tx_hash == tx] == [
        ("flash-loan.outside", "flash-swap:uniswapV2Call")]
    assert alarming(records) == []


def test_honest_large_withdrawal(world, anvil, tmp_path):
    vault = world.contract("CollateralVault")
    lp = world.accounts.lp.address
    first = world.w3.eth.block_number + 1
    world.send(vault.functions.removeLiquidity(vault.functions.sharesOf(lp).call() * 3 // 10), "lp")  # ~28 % of the vault
    assert alarming(detect(world, tmp_path, first)) == []


def test_honest_twelve_percent_feed_move(world, anvil, tmp_path):
    first = world.w3.eth.block_number + 1
    push_feed(ImmediatePlayer(world), spot_price(world) * 112 // 100)
    records = detect(world, tmp_path, first)
    oracle = [r for r in records if family(r) == "oracle-health"]
    assert {r.rule_id for r in oracle} == {"oracle-health.move", "oracle-health.divergence"}
    assert [r.evidence["reference"] for r in oracle if r.rule_id == "oracle-health.divergence"] == ["WETH-dUSD"]
    assert alarming(records) == []


def test_routine_governance_parameter_change_configured_as_expected(world, anvil, tmp_path):
    market = world.contract("PerpMarket")
    current = [getattr(market.functions, name)().call() for name in ("maxLeverage", "maintenanceMarginBps", "feeBps", "maxOpenInterest")]
    expected = {"privileged-change": {"expected": [
        {"contract": "PerpMarket", "event": "RiskParametersChanged", "args": {"feeBps": current[2] + 5}}]}}
    first = world.w3.eth.block_number + 1
    world.governance_call("PerpMarket", "setRiskParameters", current[0], current[1], current[2] + 5, current[3])
    records = detect(world, tmp_path, first, rules=expected)
    change = [r for r in records if family(r) == "privileged-change"]
    assert [(r.severity, r.evidence["expected"], r.evidence["by_governance"]) for r in change] == [("info", True, True)]
    assert alarming(records) == []


def test_hostile_takeover_through_compromised_safe_keys(world, anvil, tmp_path):
    first = world.w3.eth.block_number + 1
    attack = play_attack(ADMIN_KEY, world)
    records = detect(world, tmp_path, first)
    takeover = [r for r in records if r.tx_hash == attack.details["takeover_tx"]]
    assert [(r.rule_id, r.severity) for r in takeover] == [("privileged-change.ownership", "high")]
    assert ("drain.tx", "critical") in {(r.rule_id, r.severity) for r in records if r.tx_hash == attack.tx_hash}


def test_benign_traffic_with_a_selloff_and_a_liquidation(world, anvil, tmp_path):
    first = world.w3.eth.block_number + 1
    traffic = play_traffic(BENIGN_TRAFFIC, world, rounds=6, volatile=True)
    assert traffic.count("liquidation") == 1 and traffic.count("flash_swap_arbitrage") >= 1 and traffic.count("twap") >= 1
    records = detect(world, tmp_path, first)
    assert alarming(records) == []
    # keepers' TWAP and feed updates are routine, not privileged changes; arbitrage is the only flash loan
    assert {r.rule_id for r in records} <= {"flash-loan.outside"}


def test_flagship_attack_flagged_while_pending(world, anvil, tmp_path):
    manifest = load_manifest(world.manifest_path)
    store = Store(f"sqlite:///{tmp_path / 'watchdog.db'}")
    engine = Engine("devnet", manifest, store)
    abis = AbiRegistry()
    abis.add_manifest(manifest)
    mempool = MempoolFollower("devnet", RpcClient(world.rpc_url), store, engine, engine.watched_addresses(), abis)
    contract = deploy_flash_loan_attacker(world)
    anvil.set_automine(False)
    try:
        tx = send_flash_loan_spot_attack(world, contract, wait=False)
        found = mempool.process([tx])
    finally:
        anvil.set_automine(True)
    assert all(r.pending and r.tx_hash == tx for r in found)
    assert {("flash-loan.protocol", "critical"), ("price-manipulation.round-trip", "critical"), ("drain.tx", "critical")} <= {
        (r.rule_id, r.severity) for r in found}
