"""The demo world's scenarios (watchdog.devnet.world): attacks on the perpetuals protocol and its oracles, and
honest traffic. The order of CATALOGUE is the order `watchdog drill --list` and `watchdog drill all` use."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from watchdog.devnet import Anvil
from watchdog.devnet.cache import world_on_anvil
from watchdog.devnet.world import E18, World
from watchdog.scenarios.player import ImmediatePlayer
from watchdog.scenarios.base import DEVNET, Books, Catalogue
from watchdog.scenarios.demo.attacks import (ADMIN_KEY, FLASH_LOAN_DRAIN, FLASH_LOAN_SPOT, MALICIOUS_UPGRADE,
                                             MEMPOOL_PREEMPT, ORACLE_DIVERGENCE, ORACLE_SWAP, SLOW_DRAIN,
                                             STALE_ORACLE, TWAP_MULTIBLOCK, deploy_flash_loan_attacker,
                                             send_flash_loan_spot_attack)
from watchdog.scenarios.demo.market import push_feed, spot_price, swap, update_twap
from watchdog.scenarios.demo.traffic import BENIGN_TRAFFIC, BENIGN_VOLATILE, arbitrage


def _holdings(world: World) -> dict[str, int]:
    attacker = world.accounts.attacker.address
    return {token: world.contract(token).functions.balanceOf(attacker).call() for token in ("dUSD", "WETH")}


def _value(world: World, change: dict[str, int]) -> int:
    """In dUSD, WETH at the main pair's spot price now."""
    return change["dUSD"] + change["WETH"] * spot_price(world) // E18


def _pool(world: World) -> int:
    return world.contract("CollateralVault").functions.poolAssets().call()


def _load(anvils: Mapping[str, Anvil], out_dir: Path, use_cache: bool) -> World:
    return world_on_anvil(anvils[DEVNET], out_dir, use_cache=use_cache)


def _freshen(world: World) -> None:
    """The keeper publishes the feed and pokes the TWAP (a cached world may be hours old)."""
    keeper = ImmediatePlayer(world)
    push_feed(keeper)
    update_twap(keeper)


BOOKS = Books(holdings=_holdings, value=_value, at_risk=_pool, unit="dUSD", decimals=18)

CATALOGUE = Catalogue("demo", {s.name: s for s in (
    FLASH_LOAN_SPOT, TWAP_MULTIBLOCK, STALE_ORACLE, ORACLE_DIVERGENCE, ADMIN_KEY, MALICIOUS_UPGRADE, SLOW_DRAIN,
    MEMPOOL_PREEMPT, BENIGN_VOLATILE, FLASH_LOAN_DRAIN, ORACLE_SWAP, BENIGN_TRAFFIC)}, BOOKS, traffic=BENIGN_TRAFFIC,
    load=_load, freshen=_freshen)

__all__ = ["ADMIN_KEY", "BENIGN_TRAFFIC", "BENIGN_VOLATILE", "BOOKS", "CATALOGUE", "FLASH_LOAN_DRAIN",
           "FLASH_LOAN_SPOT", "MALICIOUS_UPGRADE", "MEMPOOL_PREEMPT", "ORACLE_DIVERGENCE", "ORACLE_SWAP", "SLOW_DRAIN",
           "STALE_ORACLE", "TWAP_MULTIBLOCK", "arbitrage", "deploy_flash_loan_attacker", "push_feed",
           "send_flash_loan_spot_attack", "spot_price", "swap", "update_twap"]
