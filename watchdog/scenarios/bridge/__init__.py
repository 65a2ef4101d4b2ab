"""The bridge world's scenarios (watchdog.devnet.bridge): a token bridge between two networks, `home` (the escrow of
ALP and its price feed) and `remote` (the wrapped bALP, its minters, the relayed feed and a lending market that takes
bALP as collateral). Each scenario's steps go to whichever chain their contract is on; the relayer is stepped by the
scenario itself between blocks (it waits `delay_blocks` confirmations of each message), so a drill plays the same
steps on the block clocks of both chains as a test plays them at once.

A drill of this world starts two anvils and one watchdog following both networks (`watchdog drill all --world
bridge`); the world deploys in about 1.5 s and is not cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from watchdog.devnet import Anvil
from watchdog.devnet.bridge import BridgeWorld, Relayer, deploy_bridge_world
from watchdog.devnet.bridge.scenarios import forge_burn, forge_lock, next_burn_nonce, next_lock_nonce
from watchdog.devnet.bridge.world import E18, HOME_CHAIN_ID, REMOTE_CHAIN_ID
from watchdog.devnet.world import World
from watchdog.errors import RpcError
from watchdog.scenarios.base import Books, Catalogue, Player, Scenario, State

BPS = 10_000
RELAY_PATIENCE = 40  # blocks a relay step waits for the relayer before the scenario is broken
SLOT_SECONDS = 12  # chain time per block while the stuck relayer is silent (a mainnet slot)


# --- steps shared by the scenarios ---

def relay(player: Player, state: State) -> None:
    """The relayer delivers what is pending (and relays a new source price): a block passes on both chains between
    its rounds while it waits for confirmations."""
    relayer: Relayer = state["relayer"]
    relayer.step()
    for _ in range(RELAY_PATIENCE):
        if not relayer.pending:
            return
        player.pass_time("relayer waits for confirmations", 0)
        relayer.step()
    raise RpcError(f"the relayer still has {len(relayer.pending)} message(s) after {RELAY_PATIENCE} blocks: "
                   f"{'; '.join(relayer.errors[-3:]) or 'no error reported'}")


def deposit(player: Player, who: str, amount: int, *, name: str = "deposit to remote", attack: bool = False,
            payoff: bool = False) -> Any:
    """`who` locks `amount` ALP on home for bALP on remote."""
    world: BridgeWorld = player.world
    escrow = world.home.contract("BridgeEscrow")
    return player.send(name, escrow.functions.lock(world.remote_chain_id, world.accounts[who].address,
                                                                  amount), who, attack=attack, payoff=payoff)


def withdraw(player: Player, who: str, amount: int) -> Any:
    """`who` burns `amount` bALP on remote for ALP on home."""
    world: BridgeWorld = player.world
    minter = world.remote.contract("BridgeMinter")
    return player.send("withdrawal to home", minter.functions.burn(world.home_chain_id, world.accounts[who].address,
                                                                    amount), who, attack=False)


def borrow_against(player: Player, who: str, collateral: int, *, attack: bool = True) -> None:
    """`who` posts `collateral` bALP in the market and borrows what the loan-to-value allows at the relayed price."""
    world: BridgeWorld = player.world
    market = world.remote.contract("BridgedCollateralMarket")
    wanted = collateral * market.functions.price().call() // 10**8 * market.functions.loanToValueBps().call() // BPS
    wanted = min(wanted, world.remote.contract("dUSD").functions.balanceOf(market.address).call())
    player.send(f"{who} posts {collateral // E18:,} bALP as collateral", market.functions.depositCollateral(collateral),
                who, attack=attack)
    player.send(f"{who} borrows {wanted // E18:,} dUSD", market.functions.borrow(wanted), who, attack=attack,
                payoff=attack)


def _relayer(world: BridgeWorld, state: State) -> None:
    state["relayer"] = Relayer(world, delay_blocks=state["delay_blocks"])


# --- honest traffic ---

def _traffic(player: Player, state: State) -> None:
    """Per round: two deposits, a withdrawal, a source price move; each relayed."""
    world: BridgeWorld = player.world
    feed = world.home.contract("ALP-USD-Feed")
    for n in range(state["rounds"]):
        deposit(player, "trader1", (2 + n) * 1_000 * E18)
        deposit(player, "trader2", 1_500 * E18)
        relay(player, state)
        withdraw(player, "trader1", 400 * E18)
        relay(player, state)
        move = -150 if n % 2 else 100
        player.send("source price update", feed.functions.updateAnswer(
            feed.functions.latestAnswer().call() * (BPS + move) // BPS), "keeper", attack=False)
        relay(player, state)


TRAFFIC = Scenario("bridge-traffic", "Honest cross-chain traffic",
                   "Deposits to remote and a withdrawal back to home, relayed after two confirmations, and a source "
                   "price move relayed.", prepare=_relayer, steps=_traffic,
                   params={"rounds": 1, "volatile": False, "delay_blocks": 2}, benign=True, world="bridge", drill=False)


def _benign(player: Player, state: State) -> None:
    world: BridgeWorld = player.world
    for who, amount in (("trader1", 3_000 * E18), ("trader2", 2_000 * E18), ("trader2", 1_000 * E18)):
        deposit(player, who, amount)
    relay(player, state)
    for who in ("trader1", "trader2"):
        withdraw(player, who, 500 * E18)
    relay(player, state)
    feed = world.home.contract("ALP-USD-Feed")
    player.send("source price update", feed.functions.updateAnswer(
        feed.functions.latestAnswer().call() * (BPS + 200) // BPS), "keeper", attack=False)
    relay(player, state)
    market = world.remote.contract("BridgedCollateralMarket")
    player.send("trader1 posts 1,000 bALP as collateral", market.functions.depositCollateral(1_000 * E18), "trader1",
                attack=False)
    player.send("trader1 borrows 300 dUSD", market.functions.borrow(300 * E18), "trader1", attack=False)


BENIGN = Scenario("benign-bridge", "Honest cross-chain day with a slow relayer",
                  "Deposits and withdrawals through a slow but honest relayer (it waits four confirmations), a source "
                  "price move relayed, a modest borrow against bridged collateral.",
                  prepare=_relayer, steps=_benign, params={"delay_blocks": 4}, benign=True, world="bridge",
                  mempool=False)


# --- attacks ---

def _forged_mint(player: Player, state: State) -> None:
    world: BridgeWorld = player.world
    attacker, amount = world.accounts.attacker, state["amount"]
    message = forge_lock(world, attacker.address, amount, next_lock_nonce(world))
    minter = world.remote.contract("BridgeMinter")
    player.send(f"forged mint of {amount // E18:,} bALP with no lock behind it",
                minter.functions.mint(message.as_tuple(), message.sign(world.accounts.relayer)), "attacker",
                actor="stolen relayer key", payoff=True)
    player.next_block()
    borrow_against(player, "attacker", amount)


FORGED_MINT = Scenario(
    "forged-mint", "Forged mint with a stolen relayer key",
    "The relayer's key is stolen: the attacker mints 50,000 bALP on remote for a lock that never happened on home "
    "(with the route's next nonce), then posts it as collateral and borrows the market's dollars in the next block.",
    prepare=_relayer, steps=_forged_mint, params={"amount": 50_000 * E18, "delay_blocks": 2}, world="bridge",
    mempool=False)


def _replayed_message(player: Player, state: State) -> None:
    world: BridgeWorld = player.world
    relayer: Relayer = state["relayer"]
    deposit(player, "attacker", state["amount"])  # an honest deposit: the message the attacker will replay
    relay(player, state)
    delivery = relayer.deliveries[-1]
    args = (delivery.message.as_tuple(), delivery.signature)  # public: in the calldata of the delivery
    player.send("the delivered message again to the minter", world.remote.contract("BridgeMinter").functions.mint(*args),
                "attacker")
    player.send("the delivered message again to the legacy V1 minter",
                world.remote.contract("BridgeMinterV1").functions.mint(*args), "attacker", payoff=True)
    player.next_block()
    borrow_against(player, "attacker", 2 * state["amount"])


REPLAYED_MESSAGE = Scenario(
    "replayed-message", "Delivered message replayed through the legacy minter",
    "The attacker bridges 5,000 ALP honestly, then submits the delivered message again: the minter rejects it, the "
    "legacy V1 minter (still allowed to mint after the migration) mints it a second time; the attacker borrows "
    "against both copies.",
    prepare=_relayer, steps=_replayed_message, params={"amount": 5_000 * E18, "delay_blocks": 2}, world="bridge",
    mempool=False)


def _compromised_relayer(player: Player, state: State) -> None:
    world: BridgeWorld = player.world
    attacker, key = world.accounts.attacker, world.accounts.relayer
    locked = world.escrowed()
    minted = locked + state["extra"]
    first = next_lock_nonce(world)
    minter = world.remote.contract("BridgeMinter")
    for n, amount in enumerate((minted // 2, minted - minted // 2)):
        message = forge_lock(world, attacker.address, amount, first + n)
        player.send(f"forged mint {n + 1} of {amount // E18:,} bALP", minter.functions.mint(message.as_tuple(), message.sign(key)),
                    "attacker", actor="stolen relayer key", payoff=True)
    player.next_block()
    release = forge_burn(world, attacker.address, locked, next_burn_nonce(world))
    player.send(f"forged release of the escrow's {locked // E18:,} ALP on home",
                world.home.contract("BridgeEscrow").functions.release(release.as_tuple(), release.sign(key)), "attacker",
                actor="stolen relayer key", payoff=True)
    borrow_against(player, "attacker", minted)


COMPROMISED_RELAYER = Scenario(
    "compromised-relayer", "Compromised relayer mints beyond the escrow and drains it",
    "With the stolen relayer key the attacker mints more bALP than the whole escrow holds, then signs a release of "
    "everything locked on home and borrows the market's dollars against the minted bALP.",
    prepare=_relayer, steps=_compromised_relayer, params={"extra": 100_000 * E18, "delay_blocks": 2}, world="bridge",
    mempool=False)


def _stuck_relayer(player: Player, state: State) -> None:
    relayer: Relayer = state["relayer"]
    for who, amount in (("trader1", 1_000 * E18), ("trader2", 1_200 * E18), ("trader1", 800 * E18)):
        deposit(player, who, amount)  # the route's usual latency, as the watchdog sees it
        relay(player, state)
    relayer.halt()
    deposit(player, "trader2", 2_000 * E18, name="deposit the relayer leaves waiting", attack=True)
    for _ in range(state["silent_blocks"]):
        player.pass_time(f"{SLOT_SECONDS} s pass; the relayer delivers nothing", SLOT_SECONDS)
    deposit(player, "trader1", 3_000 * E18, name="deposit into the stuck bridge", attack=True, payoff=True)


STUCK_RELAYER = Scenario(
    "stuck-relayer", "Stuck relayer",
    "The relayer delivers three deposits, then stops: a deposit waits on home while chain time passes, 12 s a block; "
    "the route's learned deadline flags it and the bridge is paused before the next user locks funds into it.",
    prepare=_relayer, steps=_stuck_relayer, params={"delay_blocks": 2, "silent_blocks": 10}, world="bridge",
    mempool=False)


# --- the world ---

def _load(anvils: Mapping[str, Anvil], out_dir: Path, use_cache: bool) -> BridgeWorld:
    return deploy_bridge_world(anvils["home"], anvils["remote"], Path(out_dir))  # deployed fresh: about 1.5 s


def _freshen(world: BridgeWorld) -> None:
    """Deployed fresh for every drill: its feeds are current."""


def _per_network(world: BridgeWorld) -> dict[str, World]:
    return {"home": world.home, "remote": world.remote}


def _alp_price(world: BridgeWorld) -> int:
    return world.home.contract("ALP-USD-Feed").functions.latestAnswer().call()


def _holdings(world: BridgeWorld) -> dict[str, int]:
    attacker = world.accounts.attacker.address
    return {"dUSD": world.remote.contract("dUSD").functions.balanceOf(attacker).call(),
            "bALP": world.remote.contract("bALP").functions.balanceOf(attacker).call(),
            "ALP": world.home.contract("ALP").functions.balanceOf(attacker).call()}


def _value(world: BridgeWorld, change: dict[str, int]) -> int:
    """In dUSD, ALP and bALP at the home feed's price."""
    return change["dUSD"] + (change["bALP"] + change["ALP"]) * _alp_price(world) // 10**8


def _at_risk(world: BridgeWorld) -> int:
    """The market's dollars and the escrow's ALP (at the home feed's price)."""
    market = world.remote.contract("dUSD").functions.balanceOf(world.remote.addresses["BridgedCollateralMarket"]).call()
    escrowed = world.home.contract("ALP").functions.balanceOf(world.home.addresses["BridgeEscrow"]).call()
    return market + escrowed * _alp_price(world) // 10**8


BOOKS = Books(holdings=_holdings, value=_value, at_risk=_at_risk, unit="dUSD", decimals=18)

CATALOGUE = Catalogue(
    "bridge", {s.name: s for s in (FORGED_MINT, REPLAYED_MESSAGE, COMPROMISED_RELAYER, STUCK_RELAYER, BENIGN, TRAFFIC)},
    BOOKS, traffic=TRAFFIC, load=_load, freshen=_freshen,
    networks={"home": HOME_CHAIN_ID, "remote": REMOTE_CHAIN_ID}, per_network=_per_network)

__all__ = ["BENIGN", "BOOKS", "CATALOGUE", "COMPROMISED_RELAYER", "FORGED_MINT", "REPLAYED_MESSAGE", "STUCK_RELAYER",
           "TRAFFIC", "borrow_against", "deposit", "relay", "withdraw"]
