"""Reading the Harbor world's markets and building the transactions its scenarios share: pool prices and swaps,
the keeper's feed answers, pausing a protocol by its manifest pause path, and the protocols' health."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


from watchdog.chain.abi import selector
from watchdog.devnet.world2.chain import HarborWorld
from watchdog.devnet.world2.deploy import E18, FEED_DECIMALS, USD

FAR_DEADLINE = 2**63  # router deadlines: the scenarios' swaps are sent at once
FEE = 0.997  # Uniswap V2 keeps 0.3% of the input


def base_token(pair_name: str) -> str:
    return "HBR" if "Hbr" in pair_name else "WETH"


def reserves(world: HarborWorld, pair_name: str) -> tuple[int, int]:
    """(base token reserve, hUSD reserve) of a pool."""
    pair = world.contract(pair_name)
    r0, r1, _ = pair.functions.getReserves().call()
    return (r0, r1) if pair.functions.token0().call() == world.addresses[base_token(pair_name)] else (r1, r0)


def spot(world: HarborWorld, pair_name: str) -> int:
    """hUSD (raw units) per whole base token at the pool's reserves."""
    base, usd = reserves(world, pair_name)
    return usd * E18 // base


def usd_to_move(world: HarborWorld, pair_name: str, ratio: float) -> int:
    """hUSD to pay in (ratio > 1) to lift the pool's price by `ratio`; the price of x*y=k grows with the square of
    the hUSD reserve."""
    _, usd = reserves(world, pair_name)
    return int(usd * (math.sqrt(ratio) - 1) / FEE)


def base_to_move(world: HarborWorld, pair_name: str, ratio: float) -> int:
    """Base tokens to sell (ratio < 1) to lower the pool's price by `ratio`."""
    base, _ = reserves(world, pair_name)
    return int(base * (1 / math.sqrt(ratio) - 1) / FEE)


def router_of(pair_name: str) -> str:
    return "ForkSwapRouter" if pair_name.startswith("ForkSwap") else "UniswapRouter"


def swap(world: HarborWorld, pair_name: str, sell: str, amount: int, to: str) -> Any:
    """The router call selling `amount` of `sell` ("hUSD" or the pool's base token) into the pool, proceeds to `to`."""
    path = [world.addresses[sell], world.addresses["hUSD" if sell != "hUSD" else base_token(pair_name)]]
    router = world.contract(router_of(pair_name))
    return router.functions.swapExactTokensForTokens(amount, 0, path, to, FAR_DEADLINE)


def feed_answer_for(usd_raw: int) -> int:
    """A feed answer (8 decimals) for a price in raw hUSD units (6 decimals)."""
    return usd_raw * 10**FEED_DECIMALS // USD


def feed_answer(world: HarborWorld, feed: str) -> int:
    return world.contract(feed).functions.latestRoundData().call()[1]


def keeper_refresh(world: HarborWorld) -> None:
    """The keeper publishes now: ETH/USD at the priced pool's spot, BTC/USD unchanged, and a TWAP observation."""
    keeper = world.accounts.keeper
    eth = feed_answer_for(spot(world, "UniswapWethUsd"))
    world.send(world.contract("EthUsdFeed").functions.transmit(eth), keeper)
    world.send(world.contract("BtcUsdFeed").functions.transmit(feed_answer(world, "BtcUsdFeed")), keeper)
    world.send(world.contract("HbrTwap").functions.update(), keeper, check=False)  # a no-op within TWAP_MIN_GAP


def pause_calls(world: HarborWorld, name: str) -> list[Any]:
    """The calls that pause contract `name` by its manifest pause paths (one per market for a per-market pause)."""
    entry = world.manifest.by_name(name)
    if entry.pause is None:
        raise ValueError(f"{name} has no pause path in the manifest")
    contract = world.contract(name)
    calls = []
    for spec in entry.pause_paths:
        function = contract.get_function_by_selector(selector(spec.call))
        calls.append(function(*(bytes.fromhex(a[2:]) if isinstance(a, str) and a.startswith("0x") else a for a in spec.args)))
    return calls


def pause(world: HarborWorld, name: str) -> None:
    """The responder pauses contract `name` (every market of it, for a per-market pause)."""
    for call in pause_calls(world, name):
        world.send(call, world.accounts.responder)


@dataclass(frozen=True)
class Health:
    """What honest traffic must never break. Amounts in raw hUSD."""

    credit_bad_debt: int  # debt above the whole collateral value, over every account that ever borrowed
    credit_share_value: int  # supplied assets per 1e18 supply shares (only interest moves it)
    credit_cash_held: bool  # the pool holds at least the cash it accounts for
    savings_share_price: int  # hUSD per 1e6 shares of the savings vault
    perps_backed: bool  # the exchange holds its pool and every open margin
    options_backed: bool  # the options house holds every unsettled series' collateral and premiums
    flash_reserve: tuple[int, int]  # hUSD and WETH held by the flash reserve


def health(world: HarborWorld) -> Health:
    credit, usd = world.contract("CreditPool"), world.contract("hUSD")
    borrowers = {log["args"]["account"] for log in credit.events.Borrowed().get_logs(from_block=0)}
    assets = [credit.functions.collateralAssets(i).call() for i in range(credit.functions.collateralCount().call())]
    bad_debt = 0
    for account in borrowers:
        value = sum(credit.functions.valueOf(asset, credit.functions.collateralOf(account, asset).call()).call()
                    for asset in assets)
        bad_debt += max(0, credit.functions.debtOf(account).call() - value)
    shares = credit.functions.totalSupplyShares().call()
    share_value = credit.functions.totalSupplied().call() * E18 // shares if shares else 0
    perps, house = world.contract("PerpExchange"), world.contract("OptionsHouse")
    owed = 0
    for sid in range(house.functions.seriesCount().call()):
        series = house.functions.series(sid).call()
        owed += series[12] if series[9] else series[7] + series[8]  # writerPool if settled, else collateral + premiums
    reserve = world.addresses["FlashReserve"]
    return Health(
        credit_bad_debt=bad_debt,
        credit_share_value=share_value,
        credit_cash_held=usd.functions.balanceOf(credit.address).call() >= credit.functions.cash().call(),
        savings_share_price=world.contract("SavingsVault").functions.convertToAssets(USD).call(),
        perps_backed=usd.functions.balanceOf(perps.address).call()
        >= perps.functions.poolAssets().call() + perps.functions.totalMargin().call(),
        options_backed=usd.functions.balanceOf(house.address).call() >= owed,
        flash_reserve=(usd.functions.balanceOf(reserve).call(), world.contract("WETH").functions.balanceOf(reserve).call()),
    )

