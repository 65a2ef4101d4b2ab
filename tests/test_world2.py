"""The Harbor world on a real anvil (no watchdog involved): it deploys with a roles-only manifest, every attack
takes value when nothing stops it and nothing once its protocol is paused through the manifest's pause path, and
honest traffic takes nothing from anyone that it is not owed."""

from __future__ import annotations

import json
import re
from itertools import islice

import httpx
import pytest

from watchdog.devnet import Anvil
from watchdog.devnet import world2 as harbor
from watchdog.devnet.artifacts import CONTRACTS_DIR
from watchdog.devnet.world2 import USD, HarborWorld, Outcome, Play, TxRecord
from watchdog.manifest import load_manifest

ENTRY_KEYS = {"name", "address", "role", "abi", "pause"}
BALANCE_OF = "0x70a08231"


@pytest.fixture
def world(harbor_world: HarborWorld) -> HarborWorld:
    return harbor_world


# --- deployment ---

def test_manifest_names_roles_abis_and_pause_paths_only(world: HarborWorld) -> None:
    raw = json.loads(world.manifest_path.read_text())
    assert set(raw) == {"chain_id", "block", "contracts"}
    for entry in raw["contracts"]:
        assert set(entry) <= ENTRY_KEYS, f"{entry['name']} carries hints: {set(entry) - ENTRY_KEYS}"
        pauses = entry.get("pause", [])
        for pause in pauses if isinstance(pauses, list) else [pauses]:  # the pause path: a call and its check
            assert set(pause) <= {"via", "call", "args", "check"}
    manifest = load_manifest(world.manifest_path)
    assert manifest.block <= world.block_number() and manifest.chain_id == world.chain_id
    pausable = {c.name: [p.call for p in c.pause_paths] for c in manifest.contracts if c.pause}
    assert pausable == {"CreditPool": ["pause()"], "OptionsHouse": ["pause()"],
                        "PerpExchange": ["pauseMarket(bytes32)"] * 2, "SavingsVault": ["freeze()"], "TermVault": ["freeze()"]}
    assert {c.role for c in manifest.contracts} >= {"lending", "market", "vault", "oracle_feed", "twap_oracle",
                                                     "amm_pair", "router", "token", "flash_lender"}
    for entry in manifest.contracts:
        assert world.w3.eth.get_code(entry.address), f"{entry.name} has no code"
        assert manifest.abi_of(entry)


def test_solidity_reads_like_a_protocol_suite_of_its_own() -> None:
    sources = list((CONTRACTS_DIR / "src" / "w2").rglob("*.sol"))
    assert len(sources) >= 15
    for path in sources:
        assert not re.search(r"world2|demo", path.read_text(), re.IGNORECASE), path.name


def test_dozens_of_accounts_hold_positions_and_the_oracles_answer(world: HarborWorld) -> None:
    credit, savings, perps = world.contract("CreditPool"), world.contract("SavingsVault"), world.contract("PerpExchange")
    users = world.accounts.users
    assert len(users) == 40
    suppliers = sum(credit.functions.supplySharesOf(u.address).call() > 0 for u in users)
    borrowers = sum(credit.functions.debtOf(u.address).call() > 0 for u in users)
    savers = sum(savings.functions.balanceOf(u.address).call() > 0 for u in users)
    traders = sum(perps.functions.positions(m, u.address).call()[0] != 0 for u in users for m in harbor.MARKETS.values())
    assert (suppliers, borrowers, savers, traders) == (20, 15, 15, 10)
    assert world.contract("TermVault").functions.totalSupply().call() == 0  # newly listed, empty
    assert world.contract("HbrTwap").functions.price().call() == pytest.approx(2 * USD, rel=0.01)
    assert harbor.spot(world, "UniswapWethUsd") == pytest.approx(3_000 * USD, rel=0.001)
    assert perps.functions.markPrice(harbor.MARKETS["BTC-PERP"]).call() == 60_000 * USD
    health = harbor.health(world)
    assert health.credit_bad_debt == 0 and health.perps_backed and health.options_backed and health.credit_cash_held


def test_a_second_fresh_chain_loads_the_cached_world(world: HarborWorld, tmp_path) -> None:
    with Anvil() as second:
        loaded = harbor.harbor_on_anvil(second, tmp_path)
        assert loaded.addresses == world.addresses
        assert second.block_number() == loaded.manifest.block
        outcome = harbor.play(loaded, harbor.spot_pump_attack(loaded))
        assert outcome.taken > 1_000_000 * USD


# --- attacks ---

ATTACKS = {  # name -> (scenario, the least it must take, the contract whose pause stops it)
    "spot-pump": (harbor.spot_pump_attack, 1_000_000, "CreditPool"),
    "twap-push-hold": (harbor.twap_push_attack, 250_000, "OptionsHouse"),
    "stale-feed": (harbor.stale_feed_attack, 150_000, "PerpExchange"),
    "key-compromise": (harbor.key_compromise_attack, 6_000_000, "CreditPool"),
    "donation-inflation": (harbor.donation_inflation_attack, 100_000, "TermVault"),
    "slow-drain": (harbor.slow_drain_attack, 1_000_000, "CreditPool"),
}


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_takes_value_when_nothing_pauses_it(world: HarborWorld, name: str) -> None:
    scenario, least, victim = ATTACKS[name]
    outcome = harbor.play(world, scenario(world))
    assert not outcome.reverted, [r.label for r in outcome.reverted]
    assert outcome.taken >= least * USD, f"{name} took {outcome.taken / USD:,.0f} hUSD"
    assert sum(outcome.drained.values()) >= least * USD
    assert outcome.payoff_blocks and outcome.attack_blocks == sorted(outcome.attack_blocks)
    blocks = [r.block for r in outcome.records]
    assert blocks == sorted(set(blocks)), "one transaction per block, in order"


def test_twap_is_held_for_several_blocks_before_settlement(world: HarborWorld) -> None:
    outcome = harbor.play(world, harbor.twap_push_attack(world, hold_blocks=5))
    by_label = {r.label: r.block for r in outcome.records}
    held = by_label["settle the series on the lifted TWAP"] - by_label["buy HBR to lift the pool"]
    assert held >= 6  # the push, five held blocks, then the settlement
    assert outcome.details["settlement_price"] >= 1.9 * outcome.details["honest_price"]


def test_slow_drain_slices_are_small(world: HarborWorld) -> None:
    outcome = harbor.play(world, harbor.slow_drain_attack(world))
    slices = [r for r in outcome.records if r.label.startswith("slice")]
    assert len(slices) == 40 and all(r.succeeded for r in slices)
    assert max(outcome.details["slices"]) <= 75_000 * USD
    assert outcome.taken > 1_000_000 * USD


def test_stolen_vault_key_sweeps_the_vault_and_leaves_share_loans_under_water(world: HarborWorld) -> None:
    before = harbor.health(world)
    outcome = harbor.play(world, harbor.key_compromise_attack(world, target="SavingsVault"))
    assert outcome.taken == outcome.drained["SavingsVault"] > 1_500_000 * USD
    assert outcome.details["share_price_after"] == 0
    assert before.credit_bad_debt == 0 and harbor.health(world).credit_bad_debt >= 5 * 35_000 * USD


@pytest.mark.parametrize("name", ATTACKS)
def test_pausing_the_protocol_stops_its_attack(world: HarborWorld, name: str) -> None:
    scenario, _, victim = ATTACKS[name]
    play = scenario(world)
    harbor.pause(world, victim)
    outcome = harbor.play(world, play)
    assert outcome.taken <= 0, f"{name} still took {outcome.taken / USD:,.0f} hUSD"
    assert not outcome.payoff_blocks, "no payoff went through"
    assert all(lost <= 0 for lost in outcome.drained.values())


def test_pausing_midway_stops_the_rest_of_the_slow_drain(world: HarborWorld) -> None:
    play = harbor.slow_drain_attack(world)
    records = _play_some(world, play, 2 + 10)  # deploy, fund, then ten slices
    harbor.pause(world, "CreditPool")
    records += _play_some(world, play, 100)
    outcome = play.outcome(records)
    slices = [r for r in outcome.records if r.label.startswith("slice")]
    assert [r.succeeded for r in slices] == [True] * 10 + [False] * 30
    assert outcome.drained["CreditPool"] < 1_000_000 * USD


def _play_some(world: HarborWorld, play: Play, count: int) -> list[TxRecord]:
    """Play up to `count` steps of `play`, the way a drill paces them."""
    return [record for step in islice(play.steps, count) if (record := harbor.play_step(world, step)) is not None]


# --- honest traffic ---

@pytest.mark.parametrize("name", harbor.BENIGN)
def test_benign_traffic_takes_nothing_it_is_not_owed(world: HarborWorld, name: str) -> None:
    bystanders = _balances(world)
    before = harbor.health(world)
    outcome = harbor.play(world, harbor.BENIGN[name](world))
    after = harbor.health(world)
    assert outcome.records and not outcome.reverted, [r.label for r in outcome.reverted]
    assert outcome.taken == 0 and not outcome.attack_records
    assert after.credit_bad_debt == 0 and after.credit_cash_held and after.perps_backed and after.options_backed
    assert after.credit_share_value >= before.credit_share_value  # suppliers never lose
    assert after.savings_share_price >= before.savings_share_price
    assert after.flash_reserve >= before.flash_reserve
    actors = {r.sender for r in outcome.records}
    changed = {who for who, held in _balances(world).items() if held != bystanders[who] and who not in actors}
    assert not changed, f"accounts that did nothing lost or gained: {changed}"
    _check_details(name, outcome)


def _balances(world: HarborWorld) -> dict[str, list[str]]:
    """hUSD, WETH and HBR of every named account and user, read in one JSON-RPC batch."""
    accounts = world.accounts.all()
    tokens = [world.addresses[symbol] for symbol in ("hUSD", "WETH", "HBR")]
    calls = [{"jsonrpc": "2.0", "id": i * 3 + j, "method": "eth_call",
              "params": [{"to": token, "data": BALANCE_OF + acct.address[2:].lower().rjust(64, "0")}, "latest"]}
             for i, acct in enumerate(accounts) for j, token in enumerate(tokens)]
    answers = sorted(httpx.post(world.rpc_url, json=calls, timeout=30).json(), key=lambda answer: answer["id"])
    return {acct.name: [answer["result"] for answer in answers[i * 3:i * 3 + 3]] for i, acct in enumerate(accounts)}


def _check_details(name: str, outcome: Outcome) -> None:
    details = outcome.details
    if name == "arbitrage":
        assert details["profit"] > 0
    elif name == "flash-liquidation":
        assert details["keeper_profit"] > 0
    elif name == "whale-exit":
        assert details["credit_cash_share"] > 0.5  # most of the pool's cash, in one transaction
    elif name == "options-cycle":
        for price in details["settlement_prices"]:
            assert price == pytest.approx(details["honest_price"], rel=0.05)
