"""The drill scenarios: what is prepared before the watchdog starts, and the attack played on the clocked chain.

Each attack reuses the demo world's attacker contracts and building blocks (watchdog.devnet.scenarios), split
into preparation (deployments, funding, the protocol's configuration for the drill: mined at once) and the
attack steps, which the drill records one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from watchdog.devnet import artifacts
from watchdog.devnet.scenarios import deploy_flash_loan_attacker, spot_price, swap
from watchdog.devnet.txs import deploy
from watchdog.devnet.world import E18, World
from watchdog.drill.phase import AttackPhase

Prepare = Callable[[World], dict[str, Any]]
Attack = Callable[[AttackPhase, dict[str, Any]], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    summary: str
    prepare: Prepare | None = None
    attack: Attack | None = None  # None: a benign scenario (no attack)
    mempool: bool = True  # the watchdog follows the mempool (False: the attack goes through a private relay)
    volatile: bool = False  # background traffic includes a sell-off with liquidations

    @property
    def benign(self) -> bool:
        return self.attack is None


# --- small helpers ---

def _abi(name: str) -> list[dict[str, Any]]:
    return artifacts.project(name).abi


def _buy_usd(world: World, who: str, weth: int) -> int:
    """`who` buys dUSD with `weth` worth of ETH on the second venue (the main pair's price is untouched)."""
    usd = world.contract("dUSD")
    before = usd.functions.balanceOf(world.accounts[who].address).call()
    swap(world, who, "WETH", weth, venue="AltSwapRouter")
    return usd.functions.balanceOf(world.accounts[who].address).call() - before


def _approve(world: World, who: str, spender: str, amount: int = 2**256 - 1) -> None:
    world.send(world.contract("dUSD").functions.approve(spender, amount), who)


def _margin_account(world: World, weth: int = 20 * E18) -> int:
    """The attacker's own dUSD for margin, bought honestly, with the vault approved."""
    margin = _buy_usd(world, "attacker", weth) // 2
    _approve(world, "attacker", world.addresses["CollateralVault"])
    return margin


def _open_long(phase: AttackPhase, margin: int, size: int) -> None:
    """Deposit margin and open a long of `size` at the price the market reads now."""
    world = phase.world
    vault, market = world.contract("CollateralVault"), world.contract("PerpMarket")
    phase.send("deposit margin", vault.functions.deposit(margin), "attacker")
    phase.send("open a 10x long", market.functions.openPosition(size, margin), "attacker")


def _close_withdraw(phase: AttackPhase) -> None:
    world = phase.world
    vault, market = world.contract("CollateralVault"), world.contract("PerpMarket")
    phase.send("close the long", market.functions.closePosition(), "attacker", payoff=True)
    free = vault.functions.balanceOf(world.accounts.attacker.address).call()
    if free:  # nothing to take when the close was stopped
        phase.send("withdraw the profit", vault.functions.withdraw(free), "attacker", payoff=True)


def _flash_attacker(phase: AttackPhase, state: dict[str, Any]) -> Any:
    return phase.contract(state["attacker"], _abi("FlashLoanSpotAttacker"))


# --- flash-loan spot manipulation ---

def _prepare_flash(world: World) -> dict[str, Any]:
    return {"attacker": deploy_flash_loan_attacker(world)}


def _flash_rounds(rounds: int, borrow: int, margin: int) -> Attack:
    def attack(phase: AttackPhase, state: dict[str, Any]) -> None:
        contract = _flash_attacker(phase, state)
        for n in range(1, rounds + 1):
            phase.send(f"flash-loan round {n}: borrow {borrow:,} WETH, crash the spot price, 10x long, restore, close",
                       contract.functions.attack(borrow * E18, margin * E18), "attacker", payoff=True)
            phase.next_block()  # the attacker checks the take and goes again in a later block
    return attack


def _mempool_attack(phase: AttackPhase, state: dict[str, Any]) -> None:
    contract = _flash_attacker(phase, state)
    phase.next_block()  # sent right after a block: it waits in the public mempool for the next one
    phase.send("flash-loan attack sent to the public mempool (borrow 3,000 WETH, drain the pool)",
               contract.functions.attack(3_000 * E18, 20_000 * E18), "attacker", payoff=True)


# --- TWAP pushed over several blocks ---

def _prepare_twap(world: World) -> dict[str, Any]:
    world.set_oracle_source("twap")
    dump = 1_500 * E18
    weth = world.contract("WETH")
    world.send(weth.functions.deposit(), "attacker", value=dump)
    world.send(weth.functions.approve(world.addresses["UniswapV2Router02"], dump), "attacker")
    _approve(world, "attacker", world.addresses["UniswapV2Router02"])
    _approve(world, "attacker", world.addresses["CollateralVault"])
    return {"dump": dump, "period": world.contract("TwapOracle").functions.period().call()}


def _twap_update(phase: AttackPhase) -> None:
    twap = phase.world.contract("TwapOracle")
    if twap.functions.update().call({"from": phase.world.accounts.keeper.address}):
        phase.send("keeper closes the TWAP window", twap.functions.update(), "keeper", attack=False)


def _twap_attack(phase: AttackPhase, state: dict[str, Any]) -> None:
    world, period = phase.world, state["period"]
    usd, router = world.contract("dUSD"), world.contract("UniswapV2Router02")
    attacker = world.accounts.attacker.address
    path = [world.addresses["WETH"], world.addresses["dUSD"]]
    before = usd.functions.balanceOf(attacker).call()
    phase.send("dump 1,500 WETH on the pair and hold the price down",
               router.functions.swapExactTokensForTokens(state["dump"], 0, path, attacker, 2**40), "attacker")
    proceeds = usd.functions.balanceOf(attacker).call() - before
    _twap_update(phase)
    for n in range(3):
        phase.pass_time(f"a third of the TWAP window passes ({n + 1}/3)", period // 3 + 1)
    _twap_update(phase)
    low = world.contract("OracleAdapter").functions.price().call()
    margin = 100_000 * E18
    _open_long(phase, margin, margin * 10 * E18 // low * 99 // 100)
    phase.send("buy the WETH back: the spot price recovers",
               router.functions.swapExactTokensForTokens(max(proceeds - margin, 1), 0, path[::-1], attacker, 2**40), "attacker")
    for n in range(3):
        phase.pass_time(f"a third of the TWAP window passes ({n + 1}/3)", period // 3 + 1)
    _twap_update(phase)
    _close_withdraw(phase)


# --- stale oracle ---

def _prepare_stale(world: World) -> dict[str, Any]:
    world.set_oracle_source("feed")
    contract = deploy(world.w3, world.accounts.attacker, artifacts.project("StaleOracleAttacker"),
                      world.addresses["dUSD"], world.addresses["PerpMarket"])
    margin = _buy_usd(world, "attacker", 20 * E18) // 2
    _approve(world, "attacker", contract.address, margin)
    # the market's buyer, funded ahead: about +20 % on the main pair
    r_weth = world.contract("WETH").functions.balanceOf(world.addresses["WETH-dUSD"]).call()
    r_usd = world.contract("dUSD").functions.balanceOf(world.addresses["WETH-dUSD"]).call()
    return {"contract": contract.address, "margin": margin, "rally_weth": r_weth, "rally_usd": r_usd}


def _stale_attack(phase: AttackPhase, state: dict[str, Any]) -> None:
    world = phase.world
    contract = phase.contract(state["contract"], _abi("StaleOracleAttacker"))
    target_weth = int(state["rally_weth"] / 1.2 ** 0.5)  # constant product: +20 % price
    usd_in = (state["rally_usd"] * state["rally_weth"] // target_weth - state["rally_usd"]) * 1003 // 1000
    world.send(world.contract("dUSD").functions.mint(world.accounts.trader2.address, usd_in), "deployer")
    world.send(world.contract("dUSD").functions.approve(world.addresses["UniswapV2Router02"], usd_in), "trader2")
    path = [world.addresses["dUSD"], world.addresses["WETH"]]
    phase.send("the market rallies about 20 %", world.contract("UniswapV2Router02").functions.swapExactTokensForTokens(
        usd_in, 0, path, world.accounts.trader2.address, 2**40), "trader2", actor="market", attack=False)
    phase.pass_time("the keeper stops: 2 hours without a feed update", 2 * 3600)
    stale = world.contract("OracleAdapter").functions.price().call()
    size = state["margin"] * 10 * E18 // stale * 99 // 100
    phase.send("open a 10x long at the stale feed price", contract.functions.open(size, state["margin"]), "attacker")
    feed = world.contract("ETH-USD-Feed")
    phase.send("the keeper catches up", feed.functions.updateAnswer(spot_price(world) // 10**10), "keeper", attack=False)
    phase.send("close at the fresh price and take the profit", contract.functions.close(), "attacker", payoff=True)


# --- two oracle sources disagree ---

def _prepare_divergence(world: World) -> dict[str, Any]:
    world.set_oracle_source("feed")
    return {"margin": _margin_account(world)}


def _divergence_attack(phase: AttackPhase, state: dict[str, Any]) -> None:
    world = phase.world
    feed = world.contract("ETH-USD-Feed")
    fair = spot_price(world) // 10**10
    phase.send("a compromised keeper pushes a price 40 % below every other source",
               feed.functions.updateAnswer(fair * 60 // 100), "keeper", actor="compromised keeper")
    low = world.contract("OracleAdapter").functions.price().call()
    _open_long(phase, state["margin"], state["margin"] * 10 * E18 // low * 99 // 100)
    phase.send("the keeper pushes the real price back", feed.functions.updateAnswer(fair), "keeper",
               actor="compromised keeper")
    _close_withdraw(phase)


# --- governance keys ---

def _prepare_admin(world: World) -> dict[str, Any]:
    return {"drainer": deploy(world.w3, world.accounts.attacker, artifacts.project("AdminKeyDrainer")).address}


def _admin_attack(phase: AttackPhase, state: dict[str, Any]) -> None:
    drainer = phase.contract(state["drainer"], _abi("AdminKeyDrainer"))
    phase.governance("two stolen owner keys make the Safe hand the vault to the attacker",
                     "CollateralVault", "transferOwnership", drainer.address)
    phase.send("drain the vault's liquidity pool", drainer.functions.drain(phase.world.addresses["CollateralVault"]),
               "attacker", payoff=True)


def _prepare_upgrade(world: World) -> dict[str, Any]:
    price = world.contract("OracleAdapter").functions.price().call()
    attacker = world.accounts.attacker
    impl = deploy(world.w3, attacker, artifacts.project("MaliciousAdapterImplementation"), attacker.address)
    return {"impl": impl.address, "price": price, "margin": _margin_account(world)}


def _upgrade_attack(phase: AttackPhase, state: dict[str, Any]) -> None:
    price, margin = state["price"], state["margin"]
    phase.governance("compromised governance upgrades the oracle adapter's proxy to the attacker's implementation",
                     "OracleAdapter", "upgradeToAndCall", state["impl"], b"")
    fake = phase.contract(phase.world.addresses["OracleAdapter"], _abi("MaliciousAdapterImplementation"))
    phase.send("the upgraded oracle reports a tenth of the price", fake.functions.setFakePrice(price // 10), "attacker")
    _open_long(phase, margin, margin * 10 * E18 // (price // 10) * 99 // 100)
    phase.send("the upgraded oracle reports ten times the price", fake.functions.setFakePrice(price * 10), "attacker")
    _close_withdraw(phase)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("flash-loan-spot", "Flash-loan spot-price manipulation",
             "In one transaction: flash-borrow WETH, crash the AMM spot price the market reads, open a 10x long, restore "
             "the price, close at a profit paid by the pool. Repeated once per block. Sent through a private relay: the "
             "watchdog first sees it in a block (fast path, 0 confirmations).",
             _prepare_flash, _flash_rounds(4, 1_000, 5_000), mempool=False),
    Scenario("twap-multiblock", "TWAP manipulation over several blocks",
             "Against the hardened TWAP configuration: dump WETH and hold the spot price down for a whole TWAP window, "
             "open a long at the depressed TWAP, buy back, wait a window, close.", _prepare_twap, _twap_attack),
    Scenario("stale-oracle", "Stale oracle while the market moves",
             "The market prices through the push feed (no staleness bound); the keeper stops, the market rallies 20 %; "
             "the attacker opens a long at the stale price, the feed catches up, the attacker closes.",
             _prepare_stale, _stale_attack),
    Scenario("oracle-divergence", "Two oracle sources disagree",
             "A compromised keeper pushes a feed price 40 % below the AMM and every other source; the attacker opens a "
             "long at the false price, the real price is pushed back, the attacker closes.",
             _prepare_divergence, _divergence_attack),
    Scenario("admin-key", "Admin keys compromised, then drained",
             "Two of the Safe's three owner keys are stolen: the Safe hands the vault to the attacker's contract, which "
             "drains the liquidity pool in the next block.", _prepare_admin, _admin_attack),
    Scenario("malicious-upgrade", "Malicious oracle upgrade",
             "Compromised governance upgrades the oracle adapter's ERC-1967 proxy to the attacker's implementation; the "
             "attacker opens a long at a fake low price and closes at a fake high one.", _prepare_upgrade, _upgrade_attack),
    Scenario("slow-drain", "Slow drain over several blocks",
             "The flash-loan spot attack in small slices (400 WETH, 20k margin), one block apart.",
             _prepare_flash, _flash_rounds(4, 400, 20_000)),
    Scenario("mempool-preempt", "Attack waiting in the public mempool",
             "The full flash-loan drain is sent to the public mempool right after a block; the watchdog simulates it "
             "while pending and must land the pause first in the same block (higher priority fee).",
             _prepare_flash, _mempool_attack),
    Scenario("benign-volatile", "A busy, volatile day (no attack)",
             "Swaps on both venues, keeper feed and TWAP updates, traders opening and closing, legitimate flash-swap "
             "arbitrage, a 12 % sell-off and a liquidation. Nothing here may pause the protocol.", volatile=True),
)}
