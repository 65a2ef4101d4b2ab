"""The Harbor world's scenarios (watchdog.devnet.world2): attacks of several classes on four protocols the watchdog
was not written for, and a wide mix of honest activity. Harbor writes its scenarios as paced plays (a `Play` whose
steps are transactions and waits); here each becomes a catalogue scenario, played at once by tests and on the block
clock by drills like every other."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from watchdog.devnet import Anvil
from watchdog.devnet.world2 import ATTACKS, BENIGN, HarborWorld, Play, Wait, harbor_on_anvil, keeper_refresh, spot
from watchdog.devnet.world2.deploy import E18
from watchdog.scenarios.base import DEVNET, Books, Catalogue, Player, Scenario, State

PROTOCOLS = ("CreditPool", "OptionsHouse", "PerpExchange", "SavingsVault", "TermVault")


def _scenario(name: str, make: Callable[..., Play], title: str, summary: str, *, benign: bool = False,
              drill: bool = True, params: dict[str, Any] | None = None) -> Scenario:
    def prepare(world: HarborWorld, state: State) -> None:
        # Harbor mines a play's setup when the play is made; its victims are what the drill counts as at risk
        play = make(world, **{key: state[key] for key in params or {}})
        state["play"], state["victims"] = play, play.victims

    def steps(player: Player, state: State) -> None:
        for step in state["play"].steps:
            if isinstance(step, Wait):
                player.pass_time(step.label, step.seconds)
            else:
                player.send(step.label, step.call, step.sender, attack=step.attack, payoff=step.payoff, value=step.value,
                            prepare=step.kind == "prepare")

    return Scenario(name, title, summary, prepare=prepare, steps=steps, params=params or {}, benign=benign,
                    world="harbor", drill=drill)


ATTACK_SCENARIOS = [
    _scenario("spot-pump", ATTACKS["spot-pump"], "Lending market pumped through its spot price",
              "One transaction: a flash swap on one venue pumps WETH on the pool the credit market values collateral "
              "at; the attacker pledges WETH at the pumped price and borrows the market's cash, never repaid."),
    _scenario("twap-push-hold", ATTACKS["twap-push-hold"], "TWAP pushed and held over several blocks",
              "The attacker buys calls, pushes HBR to twice its price on the pool the options' TWAP averages, holds it "
              "while the keeper updates the TWAP, settles at the manipulated TWAP and exercises."),
    _scenario("stale-feed", ATTACKS["stale-feed"], "Perpetual marked by a stale feed",
              "The ETH feed goes quiet for three hours while ETH rallies 20 % on the pools; the attacker opens a 10x long "
              "at the stale mark and closes once the feed catches up."),
    _scenario("key-compromise", ATTACKS["key-compromise"], "Admin key stolen, then the market drained",
              "The credit market's admin key is stolen: it points WETH's price source at a fake pair, and the attacker "
              "borrows the whole cash against one WETH."),
    _scenario("vault-key-compromise", lambda world: ATTACKS["key-compromise"](world, target="SavingsVault"),
              "Vault owner key stolen, then swept",
              "The savings vault's owner key is stolen and its hUSD swept; the credit market's loans against vault shares "
              "go under water."),
    _scenario("donation-inflation", ATTACKS["donation-inflation"], "Share price inflated by a donation",
              "The first depositor of a new vault mints one share, donates to inflate the share price, and takes the next "
              "depositor's funds when they get zero shares."),
    _scenario("slow-drain", ATTACKS["slow-drain"], "A drain split over many blocks",
              "The credit market drained in forty slices, one per block, each far below any single threshold.",
              params={"slices": 40}),
]

BENIGN_SCENARIOS = [
    _scenario(f"benign-{name}", make, f"Honest activity: {name.replace('-', ' ')}", (make.__doc__ or "").strip().split("\n")[0],
              benign=True)
    for name, make in BENIGN.items()
]


def _traffic(world: HarborWorld, state: State) -> None:
    plays = [BENIGN[name](world) for name in ("keeper-round", "noise-trades", "perp-trading", "vault-flows", "arbitrage")]
    state["play"], state["victims"] = _chained(world, plays), ()


def _chained(world: HarborWorld, plays: list[Play]) -> Play:
    def steps(_: Play):
        for play in plays:
            yield from play.steps

    return Play(world, "traffic", steps)


def _play_traffic(player: Player, state: State) -> None:
    for step in state["play"].steps:
        if isinstance(step, Wait):
            player.pass_time(step.label, step.seconds)
        else:
            player.send(step.label, step.call, step.sender, attack=False, value=step.value)


TRAFFIC = Scenario("harbor-traffic", "Honest background activity",
                   "The keeper's rounds, noise trades, perpetual trading, vault flows and an arbitrage.",
                   prepare=_traffic, steps=_play_traffic, params={"rounds": 1, "volatile": False}, benign=True,
                   world="harbor", drill=False)


def _holdings(world: HarborWorld) -> dict[str, int]:
    attacker = world.accounts.attacker.address
    return {"hUSD": world.usd_of(attacker),
            "WETH": world.contract("WETH").functions.balanceOf(world.w3.to_checksum_address(attacker)).call()}


def _value(world: HarborWorld, change: dict[str, int]) -> int:
    """In hUSD, WETH at the Uniswap pool's spot price now."""
    return change["hUSD"] + change["WETH"] * spot(world, "UniswapWethUsd") // E18


def _protocols(world: HarborWorld) -> int:
    return sum(world.usd_of(world.addresses[name]) for name in PROTOCOLS)


def _load(anvils: Mapping[str, Anvil], out_dir: Path, use_cache: bool) -> HarborWorld:
    return harbor_on_anvil(anvils[DEVNET], out_dir, use_cache=use_cache)


BOOKS = Books(holdings=_holdings, value=_value, at_risk=_protocols, unit="hUSD", decimals=6)

CATALOGUE = Catalogue("harbor", {s.name: s for s in (*ATTACK_SCENARIOS, *BENIGN_SCENARIOS, TRAFFIC)}, BOOKS,
                      traffic=TRAFFIC, load=_load, freshen=keeper_refresh)
