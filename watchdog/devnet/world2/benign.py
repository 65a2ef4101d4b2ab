"""Honest traffic on the Harbor world: the same `Play` shape as the attacks (every transaction of kind `benign`),
so a drill can run it as background or as the benign twin of an attack. Nobody takes anything they are not owed:
the protocols' `health()` holds before and after (no bad debt, share values never fall, everything backed).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from watchdog.devnet.world2.chain import HarborWorld, create_address
from watchdog.devnet.world2.deploy import E18, MARKETS, TWAP_MIN_GAP, USD
from watchdog.devnet.world2.market import (
    base_to_move, base_token, feed_answer, feed_answer_for, reserves, spot, swap, usd_to_move,
)
from watchdog.devnet.world2.steps import Play, Step, Tx, Wait

POOLS = ("UniswapWethUsd", "ForkSwapWethUsd", "UniswapHbrUsd")


def _benign(label: str, sender: str, call: Any) -> Tx:
    return Tx(label, sender, call, "benign")


def _deploy(world: HarborWorld, sender: str, label: str, artifact: str, *args: Any) -> tuple[Tx, Any]:
    address = create_address(world.accounts[sender].address, world.next_nonce(sender))
    return _benign(label, sender, world.constructor(artifact, *args)), world.at(address, artifact)


def _market_move(world: HarborWorld, pair: str, pct: float, who: str = "whale") -> Tx:
    """`who` trades the pool `pct`% up (buys the base token) or down (sells it)."""
    ratio = 1 + pct / 100
    address = world.accounts[who].address
    if ratio >= 1:
        return _benign(f"{who} buys on {pair}", who, swap(world, pair, "hUSD", usd_to_move(world, pair, ratio), address))
    return _benign(f"{who} sells on {pair}", who,
                   swap(world, pair, base_token(pair), base_to_move(world, pair, ratio), address))


def keeper_feeds(world: HarborWorld, kind: str = "benign") -> Iterator[Step]:
    """The feed keeper's routine round: ETH/USD at the Uniswap pool's price, BTC/USD unchanged (a heartbeat)."""
    eth = feed_answer_for(spot(world, "UniswapWethUsd"))
    yield Tx("publish ETH/USD", "keeper", world.contract("EthUsdFeed").functions.transmit(eth), kind)
    btc = feed_answer(world, "BtcUsdFeed")
    yield Tx("publish BTC/USD", "keeper", world.contract("BtcUsdFeed").functions.transmit(btc), kind)


def time_passes(world: HarborWorld, label: str, seconds: int, kind: str = "benign", every: int = 1800) -> Iterator[Step]:
    """`seconds` of chain time, the feed keeper publishing its routine round every `every` seconds meanwhile."""
    while seconds > 0:
        step = min(every, seconds)
        yield Wait(label, step)
        yield from keeper_feeds(world, kind)
        seconds -= step


# --- AMM traffic ---

def noise_trades(world: HarborWorld, *, trades: int = 24, seed: int = 1) -> Play:
    """Users swap 0.2-1.5% of a pool's depth on random pools, in random directions."""
    rng = random.Random(seed)
    users = world.accounts.users

    def steps(play: Play) -> Iterator[Step]:
        for _ in range(trades):
            user, pair = rng.choice(users), rng.choice(POOLS)
            base, usd = reserves(world, pair)
            share = rng.uniform(0.002, 0.015)
            if rng.random() < 0.5:
                call = swap(world, pair, "hUSD", int(usd * share), user.address)
            else:
                call = swap(world, pair, base_token(pair), int(base * share), user.address)
            yield _benign(f"{user.name} swaps on {pair}", user.name, call)

    return Play(world, "noise-trades", steps)


def arbitrage(world: HarborWorld, *, gap_pct: float = 4.0) -> Play:
    """A user's large buy lifts WETH `gap_pct`% on the Uniswap pool; the arbitrageur closes the gap with a flash
    swap: WETH taken from ForkSwap, sold on Uniswap, ForkSwap repaid in hUSD, the difference kept."""
    found: dict[str, Any] = {}

    def steps(play: Play) -> Iterator[Step]:
        yield _market_move(world, "UniswapWethUsd", gap_pct, "user30")
        deploy, bot = _deploy(world, "arbitrageur", "deploy the arbitrage bot", "PairArbitrageur")
        yield deploy
        amount = _best_arbitrage(world)
        found["weth"] = amount
        before = world.usd_of("arbitrageur")
        yield _benign("flash-swap arbitrage between the venues", "arbitrageur", bot.functions.arbitrage(
            world.addresses["ForkSwapWethUsd"], world.addresses["UniswapWethUsd"], world.addresses["WETH"], amount, 1))
        found["profit"] = world.usd_of("arbitrageur") - before

    return Play(world, "arbitrage", steps, details=lambda: found)


def _best_arbitrage(world: HarborWorld) -> int:
    """The WETH amount (to 1/10 WETH) that earns most taking from ForkSwap and selling on Uniswap."""
    cheap_w, cheap_u = reserves(world, "ForkSwapWethUsd")
    dear_w, dear_u = reserves(world, "UniswapWethUsd")

    def profit(weth: int) -> int:
        owed = cheap_u * weth * 1000 // ((cheap_w - weth) * 997) + 1
        proceeds = weth * 997 * dear_u // (dear_w * 1000 + weth * 997)
        return proceeds - owed

    return max(range(E18 // 10, 100 * E18, E18 // 10), key=profit)


def large_buys(world: HarborWorld) -> Play:
    """Honest large buys: the whale buys 8% on the Uniswap WETH pool and 10% on the HBR pool, a user 5% on ForkSwap."""
    def steps(play: Play) -> Iterator[Step]:
        yield _market_move(world, "UniswapWethUsd", 8)
        yield _market_move(world, "UniswapHbrUsd", 10)
        yield _market_move(world, "ForkSwapWethUsd", 5, "user31")

    return Play(world, "large-buys", steps)


# --- credit pool ---

def leverage_loops(world: HarborWorld, *, users: int = 4, own_weth: int = 10 * E18, extra_weth: int = 15 * E18) -> Play:
    """Users open leveraged WETH positions: each deploys a looper, sends it `own_weth`, and flash-swaps
    `extra_weth` more from ForkSwap; all of it is pledged and the hUSD borrowed against it repays the swap."""
    weth = world.contract("WETH")
    loopers: list[str] = []

    def steps(play: Play) -> Iterator[Step]:
        for user in world.accounts.users[30:30 + users]:
            deploy, looper = _deploy(world, user.name, "deploy a leverage looper", "LeverageLooper",
                                     world.addresses["CreditPool"], weth.address)
            loopers.append(looper.address)
            yield deploy
            yield _benign("send WETH to the looper", user.name, weth.functions.transfer(looper.address, own_weth))
            yield _benign("lever up with a flash swap", user.name,
                          looper.functions.lever(world.addresses["ForkSwapWethUsd"], extra_weth))

    def details() -> dict[str, Any]:
        credit = world.contract("CreditPool")
        return {"loopers": loopers, "debts": [credit.functions.debtOf(a).call() for a in loopers]}

    return Play(world, "leverage-loops", steps, details=details)


def flash_liquidation(world: HarborWorld, *, drop_pct: float = 15.0) -> Play:
    """A user borrows close to the limit; WETH falls `drop_pct`% on the Uniswap pool (the whale sells); a keeper
    liquidates half the debt with a flash loan from the FlashReserve and sells the seized WETH on ForkSwap."""
    credit, weth = world.contract("CreditPool"), world.contract("WETH")
    borrower = world.accounts.user34
    found: dict[str, Any] = {}

    def steps(play: Play) -> Iterator[Step]:
        yield _benign("pledge 20 WETH", borrower.name, credit.functions.depositCollateral(weth.address, 20 * E18))
        limit = credit.functions.borrowable(borrower.address).call()
        yield _benign("borrow 99% of the limit", borrower.name, credit.functions.borrow(limit * 99 // 100))
        yield _market_move(world, "UniswapWethUsd", -drop_pct)
        deploy, bot = _deploy(world, "liquidator", "deploy the flash liquidator", "FlashLiquidator",
                              credit.address, world.addresses["FlashReserve"])
        yield deploy
        repay = credit.functions.debtOf(borrower.address).call() // 2
        found["repay"] = repay
        yield _benign("flash-funded liquidation", "liquidator", bot.functions.liquidate(
            borrower.address, weth.address, repay, world.addresses["ForkSwapWethUsd"]))
        found["keeper_profit"] = world.usd_of("liquidator")

    return Play(world, "flash-liquidation", steps, details=lambda: found)


def whale_exit(world: HarborWorld) -> Play:
    """The whale withdraws its whole credit-pool supply (most of the pool's cash) and most of its savings; the
    perp exchange's main liquidity provider removes 85% of the pool. Each in one transaction, each their own."""
    credit, savings, perps = world.contract("CreditPool"), world.contract("SavingsVault"), world.contract("PerpExchange")
    whale, found = world.accounts.whale.address, {}

    def steps(play: Play) -> Iterator[Step]:
        supplied = credit.functions.supplyBalanceOf(whale).call()
        found["credit_cash_share"] = supplied / credit.functions.cash().call()
        yield _benign("withdraw the whole credit supply", "whale", credit.functions.withdraw(supplied))
        shares = savings.functions.balanceOf(whale).call()
        yield _benign("redeem 90% of the savings", "whale", savings.functions.redeem(shares * 9 // 10, whale, whale))
        lp = perps.functions.lpSharesOf(world.accounts.perp_lp.address).call()
        yield _benign("remove 85% of the perp liquidity", "perp_lp", perps.functions.removeLiquidity(lp * 85 // 100))

    return Play(world, "whale-exit", steps, details=lambda: found)


# --- feeds, perps, options, savings ---

def feed_moves(world: HarborWorld, *, moves: tuple[float, ...] = (12.0, -10.0, 15.0)) -> Play:
    """Honest 10-15% moves: ETH moves on both pools (the whale trades) and the keeper publishes the new price;
    BTC/USD moves as much on its feed. Ten minutes between moves."""
    def steps(play: Play) -> Iterator[Step]:
        for pct in moves:
            for pair in ("UniswapWethUsd", "ForkSwapWethUsd"):
                yield _market_move(world, pair, pct)
            eth = feed_answer_for(spot(world, "UniswapWethUsd"))
            yield _benign("publish ETH/USD", "keeper", world.contract("EthUsdFeed").functions.transmit(eth))
            btc = feed_answer(world, "BtcUsdFeed") * int(1000 + pct * 10) // 1000
            yield _benign("publish BTC/USD", "keeper", world.contract("BtcUsdFeed").functions.transmit(btc))
            yield Wait("ten minutes", 600)

    return Play(world, "feed-moves", steps)


def keeper_round(world: HarborWorld, *, btc_drift_bps: int = 20) -> Play:
    """One keeper round: ETH/USD at the Uniswap pool's price, BTC/USD drifting a little, a TWAP observation."""
    def steps(play: Play) -> Iterator[Step]:
        eth = feed_answer_for(spot(world, "UniswapWethUsd"))
        yield _benign("publish ETH/USD", "keeper", world.contract("EthUsdFeed").functions.transmit(eth))
        btc = feed_answer(world, "BtcUsdFeed") * (10_000 + btc_drift_bps) // 10_000
        yield _benign("publish BTC/USD", "keeper", world.contract("BtcUsdFeed").functions.transmit(btc))
        yield Wait("a minute", TWAP_MIN_GAP)
        yield _benign("record a TWAP observation", "keeper", world.contract("HbrTwap").functions.update())

    return Play(world, "keeper-round", steps)


def perp_trading(world: HarborWorld, *, traders: int = 8, seed: int = 3) -> Play:
    """Users open 2-5x positions on both markets at fresh feed prices, a few minutes pass, and they close."""
    rng = random.Random(seed)
    perps = world.contract("PerpExchange")
    chosen = world.accounts.users[30:30 + traders]

    def steps(play: Play) -> Iterator[Step]:
        yield from keeper_round(world).steps
        for user in chosen:
            symbol = rng.choice(sorted(MARKETS))
            margin = rng.randint(5_000, 20_000) * USD
            notional = margin * rng.randint(2, 5)
            size = notional * E18 // perps.functions.markPrice(MARKETS[symbol]).call()
            yield _benign(f"open on {symbol}", user.name,
                          perps.functions.openPosition(MARKETS[symbol], size if rng.random() < 0.5 else -size, margin))
        yield Wait("a few minutes", 300)
        for user in chosen:
            for symbol, market in MARKETS.items():
                if perps.functions.positions(market, user.address).call()[0] != 0:
                    yield _benign(f"close on {symbol}", user.name, perps.functions.closePosition(market))

    return Play(world, "perp-trading", steps)


def options_cycle(world: HarborWorld, *, expires_in: int = 3600, seed: int = 5) -> Play:
    """A full option cycle at honest prices: the maker lists a call and a put expiring in an hour and writes them,
    users buy, the market trades a little while the keeper records TWAP observations, and at expiry the
    holders exercise and the maker redeems."""
    rng = random.Random(seed)
    house, twap = world.contract("OptionsHouse"), world.contract("HbrTwap")
    found: dict[str, Any] = {}

    def steps(play: Play) -> Iterator[Step]:
        price, first = spot(world, "UniswapHbrUsd"), house.functions.seriesCount().call()
        expiry = world.now() + expires_in
        terms = [(True, price * 11 // 10, price * 16 // 10, price // 30), (False, price * 9 // 10, 0, price // 35)]
        for is_call, strike, cap, premium in terms:
            yield _benign("list a series", "maker", house.functions.openSeries(is_call, strike, cap, expiry, premium))
        for sid in (first, first + 1):
            yield _benign("write", "maker", house.functions.write(sid, 50_000 * E18))
        buyers = world.accounts.users[35:40]
        for i, user in enumerate(buyers):
            yield _benign("buy options", user.name, house.functions.buy(first + i % 2, 5_000 * E18, 2**255))
        while world.now() < expiry:
            yield Wait("ten minutes", min(600, expiry - world.now()))
            user = rng.choice(world.accounts.users)
            yield _benign("a small HBR trade", user.name, swap(world, "UniswapHbrUsd", "hUSD", 2_000 * USD, user.address))
            yield _benign("record a TWAP observation", "keeper", twap.functions.update())
            yield from keeper_feeds(world)  # the feeds' heartbeat goes on meanwhile
        for i, user in enumerate(buyers):
            yield _benign("exercise", user.name, house.functions.exercise(first + i % 2))
        for sid in (first, first + 1):
            yield _benign("redeem", "maker", house.functions.redeem(sid))
        found["settlement_prices"] = [house.functions.series(s).call()[10] for s in (first, first + 1)]
        found["honest_price"] = price

    return Play(world, "options-cycle", steps, details=lambda: found)


def vault_flows(world: HarborWorld, *, moves: int = 12, seed: int = 9) -> Play:
    """Savers deposit and withdraw; the strategy brings 0.5% yield back."""
    rng = random.Random(seed)
    vault, usd = world.contract("SavingsVault"), world.contract("hUSD")
    deployer = world.accounts.deployer.address

    def steps(play: Play) -> Iterator[Step]:
        for _ in range(moves):
            user = rng.choice(world.accounts.users[20:40])
            shares = vault.functions.balanceOf(user.address).call()
            if shares and rng.random() < 0.5:
                yield _benign("redeem savings", user.name,
                              vault.functions.redeem(shares // rng.randint(2, 4), user.address, user.address))
            else:
                amount = rng.randint(1_000, 50_000) * USD
                yield _benign("deposit savings", user.name, vault.functions.deposit(amount, user.address))
        yield_amount = vault.functions.totalAssets().call() // 200
        yield _benign("the strategy mints its yield", "deployer", usd.functions.mint(deployer, yield_amount))
        yield _benign("approve the vault", "deployer", usd.functions.approve(vault.address, yield_amount))
        yield _benign("distribute the yield", "deployer", vault.functions.distributeYield(yield_amount))

    return Play(world, "vault-flows", steps)


def term_vault_launch(world: HarborWorld, *, first_deposit: int = 100_000 * USD) -> Play:
    """The honest twin of the donation attack: the newcomer is the first to deposit into the new term vault,
    users follow, the strategy brings yield back, and the newcomer withdraws half."""
    vault, usd = world.contract("TermVault"), world.contract("hUSD")
    newcomer, deployer = world.accounts.newcomer.address, world.accounts.deployer.address

    def steps(play: Play) -> Iterator[Step]:
        yield _benign("first deposit into the term vault", "newcomer", vault.functions.deposit(first_deposit, newcomer))
        for user in world.accounts.users[35:40]:
            yield _benign("deposit into the term vault", user.name, vault.functions.deposit(20_000 * USD, user.address))
        gain = vault.functions.totalAssets().call() // 100
        yield _benign("the strategy mints its yield", "deployer", usd.functions.mint(deployer, gain))
        yield _benign("approve the term vault", "deployer", usd.functions.approve(vault.address, gain))
        yield _benign("distribute the yield", "deployer", vault.functions.distributeYield(gain))
        shares = vault.functions.balanceOf(newcomer).call()
        yield _benign("withdraw half", "newcomer", vault.functions.redeem(shares // 2, newcomer, newcomer))

    return Play(world, "term-vault-launch", steps)


def admin_housekeeping(world: HarborWorld) -> Play:
    """Honest privileged calls, the twins of a stolen key: the savings admin returns HBR a user sent to the vault
    by mistake, and the credit admin lowers WETH's borrow factor on the same pool."""
    vault, credit, hbr = world.contract("SavingsVault"), world.contract("CreditPool"), world.contract("HBR")
    user = world.accounts.user12
    weth, pool = world.addresses["WETH"], world.addresses["UniswapWethUsd"]

    def steps(play: Play) -> Iterator[Step]:
        yield _benign("send HBR to the vault by mistake", user.name, hbr.functions.transfer(vault.address, 1_000 * E18))
        yield _benign("return the stray HBR", "savings_admin", vault.functions.sweep(hbr.address, user.address, 1_000 * E18))
        pair_spot = 1  # CreditPool.Pricing.PairSpot
        yield _benign("lower WETH's borrow factor", "credit_admin",
                      credit.functions.configureCollateral(weth, pair_spot, pool, 7_000, 8_500))

    return Play(world, "admin-housekeeping", steps)


def credit_activity(world: HarborWorld, *, borrowers: int = 10) -> Play:
    """Many small honest loans, one block apart (the twin of a drain in slices): users pledge WETH, borrow a
    third of its value, and some repay."""
    credit = world.contract("CreditPool")
    weth = world.addresses["WETH"]

    def steps(play: Play) -> Iterator[Step]:
        chosen = world.accounts.users[10:10 + borrowers]
        for user in chosen:
            yield _benign("pledge 5 WETH", user.name, credit.functions.depositCollateral(weth, 5 * E18))
            yield _benign("borrow", user.name, credit.functions.borrow(5_000 * USD))
        for user in chosen[::2]:
            yield _benign("repay", user.name, credit.functions.repay(user.address, 5_000 * USD))

    return Play(world, "credit-activity", steps)
