"""Honest activity on the demo world: swaps both ways on both venues, the keeper's feed and TWAP updates, traders
opening and closing positions, flash-swap arbitrage between the venues, and (volatile) a sell-off with a
liquidation. Every transaction succeeds; none is an attack. Each step's name is its kind (swap, open, feed...)."""

from __future__ import annotations

import random
from typing import Any

from watchdog.devnet import artifacts
from watchdog.devnet.txs import deploy, revert_data
from watchdog.devnet.world import E18, World
from watchdog.scenarios.base import Player, Scenario, State, Step
from watchdog.scenarios.demo.market import at, push_feed, spot_price, swap, update_twap


def _arbitrageur(world: World) -> Any:
    """The keeper's arbitrage bot, deployed on first use (again after a snapshot revert removed it)."""
    address = world.helpers.get("FlashSwapArbitrageur")
    if not address or not world.w3.eth.get_code(address):
        address = deploy(world.w3, world.accounts.keeper, artifacts.project("FlashSwapArbitrageur")).address
        world.helpers["FlashSwapArbitrageur"] = address
    return at(world, address, "FlashSwapArbitrageur")


def arbitrage(play: Player) -> Step | None:
    """The keeper's bot flash-swaps WETH from the cheaper venue and sells it on the dearer one (a legitimate flash
    swap). None when the venues are too close to arbitrage."""
    world = play.world
    main, alt = spot_price(world, "WETH-dUSD"), spot_price(world, "WETH-dUSD-AltSwap")
    cheap, dear = ("WETH-dUSD", "WETH-dUSD-AltSwap") if main < alt else ("WETH-dUSD-AltSwap", "WETH-dUSD")
    gap = abs(main - alt) * 10_000 // min(main, alt)
    if gap < 100:  # under 1%: fees eat the spread
        return None
    reserve = world.contract("WETH").functions.balanceOf(world.addresses[dear]).call()
    amount = reserve * gap // 10_000 // 5  # a fraction of the gap: safely profitable
    call = _arbitrageur(world).functions.arbitrage(world.addresses[cheap], world.addresses[dear],
                                                   world.addresses["WETH"], amount)
    if revert_data(call, world.accounts.keeper) is not None:
        return None
    return play.send("flash_swap_arbitrage", call, "keeper", attack=False)


def _traffic(play: Player, state: State) -> None:
    world = play.world
    rng = random.Random(state["seed"])
    market = world.contract("PerpMarket")
    for i in range(state["rounds"]):
        trader = world.accounts.traders[i % 2].name
        if rng.random() < 0.5:
            swap(play, trader, "WETH", rng.randint(1, 8) * E18)
        else:
            swap(play, trader, "dUSD", rng.randint(3_000, 20_000) * E18)
        if market.functions.positionOf(world.accounts[trader].address).call()[0] == 0:
            size = rng.choice([1, -1]) * rng.randint(1, 5) * E18
            play.send("open", market.functions.openPosition(size, 5_000 * E18), trader, attack=False)
        else:
            play.send("close", market.functions.closePosition(), trader, attack=False)
        play.pass_time("a minute passes", 60)
        push_feed(play)
        update_twap(play)
        arbitrage(play)
    if state["volatile"]:
        _selloff(play)


def _selloff(play: Player) -> None:
    """A real sell-off: a levered long, ~12% lower prices over a few blocks (the feed follows), a liquidation."""
    world = play.world
    market, vault, usd = world.contract("PerpMarket"), world.contract("CollateralVault"), world.contract("dUSD")
    lp, stake = world.accounts.lp.address, 20_000 * E18
    play.send("mint", usd.functions.mint(lp, stake), "deployer", attack=False)
    play.send("approve", usd.functions.approve(vault.address, stake), "lp", attack=False)
    play.send("deposit", vault.functions.deposit(stake), "lp", attack=False)
    price = world.contract("OracleAdapter").functions.price().call()
    play.send("levered long", market.functions.openPosition(stake * 9 * E18 // price, stake), "lp", attack=False)
    for _ in range(4):
        swap(play, "trader1", "WETH", 25 * E18)
        play.pass_time("a minute passes", 60)
        push_feed(play)
        arbitrage(play)
    if market.functions.isLiquidatable(lp).call():
        play.send("liquidation", market.functions.liquidate(lp), "keeper", attack=False)


BENIGN_TRAFFIC = Scenario(
    "benign-traffic", "Honest activity",
    "Rounds of swaps on both venues, positions opened and closed, keeper feed and TWAP updates and flash-swap "
    "arbitrage, a minute apart; with `volatile`, a 12 % sell-off and a liquidation after them.",
    steps=_traffic, params={"rounds": 10, "volatile": False, "seed": 7}, benign=True, drill=False)
BENIGN_VOLATILE = Scenario(
    "benign-volatile", "A busy, volatile day (no attack)",
    "Swaps on both venues, keeper feed and TWAP updates, traders opening and closing, legitimate flash-swap "
    "arbitrage, a 12 % sell-off and a liquidation. Nothing here may pause the protocol.", benign=True, volatile=True)
