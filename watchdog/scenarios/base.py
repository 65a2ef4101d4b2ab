"""What a scenario is, what plays it, and how a world counts what an attack took."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from watchdog.devnet.world import World

# A scenario's working memory: its parameters, then what `prepare` set up (contracts, amounts), then what the
# steps note down (key transactions). Played at once, it comes back as the result's `details`.
State = dict[str, Any]

STEP_GAS = 3_000_000  # fixed: a step is sent without an estimate, so a paused protocol yields a mined revert
DEVNET = "devnet"  # the network of a world that runs on one chain


@dataclass
class Step:
    """One step as it was played: a transaction, or time passing (no transaction)."""

    name: str
    actor: str  # attacker | compromised keys | keeper | market | time | a dev account's name
    tx_hash: str | None
    sent_at: float
    block: int | None = None
    index: int | None = None  # position in its block
    mined_at: float | None = None
    succeeded: bool | None = None
    attack: bool = True  # a step of the attack (vs the environment it exploits)
    payoff: bool = False  # a step where the attacker takes value out
    prepare: bool = False  # an attack step that only gets ready (deploys, funds, buys what it will exploit)
    network: str = DEVNET  # the network its block is on

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.name, "actor": self.actor, "tx": self.tx_hash, "block": self.block,
                "succeeded": self.succeeded, "attack": self.attack, "payoff": self.payoff, "prepare": self.prepare,
                "network": self.network}


class Player(Protocol):
    """Plays a scenario's steps on a world: at once on an automining chain (tests), or on the drill's block clock.

    `send` returns once the transaction is mined, reverted or not: a step's outcome is part of what is played."""

    world: World

    def send(self, name: str, call: Any, sender: str, *, actor: str | None = None, attack: bool = True,
             payoff: bool = False, value: int = 0, prepare: bool = False) -> Step:
        """Send a contract call (a web3 contract function, on the network its contract is bound to) from the dev
        account named `sender`."""
        ...

    def pass_time(self, name: str, seconds: int) -> Step:
        """Let `seconds` of chain time pass, carried by a new block (on every network of the world)."""
        ...

    def next_block(self) -> None:
        """What follows goes in a later block than what came before."""
        ...


Prepare = Callable[[World, State], None]
Steps = Callable[[Player, State], None]


@dataclass(frozen=True)
class Scenario:
    """An attack, or a stretch of honest activity, on one test world: written once, played at once by tests and
    on the block clock by drills."""

    name: str
    title: str
    summary: str
    prepare: Prepare | None = None  # deployments, funding, configuration: mined at once, before any watchdog runs
    steps: Steps | None = None  # None: nothing beyond a drill's background traffic
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)  # defaults; a play may override them
    benign: bool = False
    world: str = "demo"  # the test world it runs on (see watchdog.scenarios.catalogue)
    drill: bool = True  # offered by `watchdog drill` (False: played by tests only)
    mempool: bool = True  # drills: the watchdog follows the mempool (False: the attack goes through a private relay)
    volatile: bool = False  # drills: the background traffic includes a sell-off with liquidations

    def setup(self, world: World, **params: Any) -> State:
        """The state to play the steps with: the parameters (defaults overridden by `params`), prepared on `world`."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise TypeError(f"scenario {self.name!r} has no parameter {', '.join(unknown)}; "
                            f"it takes: {', '.join(self.params) or 'none'}")
        state: State = {**self.params, **params}
        if self.prepare is not None:
            self.prepare(world, state)
        return state

    def play(self, player: Player, state: State) -> None:
        if self.steps is not None:
            self.steps(player, state)


@dataclass(frozen=True)
class Books:
    """How a world counts what an attack took: the attacker's holdings by token, the value of a change in them at
    the world's prices now (in its quote asset), and the funds at risk in the protocols; `unit` names the quote
    asset and `decimals` its decimals."""

    holdings: Callable[[Any], dict[str, int]]
    value: Callable[[Any, dict[str, int]], int]
    at_risk: Callable[[Any], int]
    unit: str = "dUSD"
    decimals: int = 18

    def gain(self, world: World, before: dict[str, int]) -> int:
        after = self.holdings(world)
        return self.value(world, {token: after[token] - before[token] for token in after})


def one_network(world: World) -> dict[str, World]:
    return {DEVNET: world}


@dataclass(frozen=True)
class Catalogue:
    """The scenarios of one test world, how it counts an attack's take, the honest traffic drills play before an
    attack, the networks it runs on (name -> chain id: a drill starts one anvil for each), how a drill gets the world
    onto them (`load(anvils by network, out_dir, use_cache)`), the World of each network in what it loaded
    (`per_network(world)`), and how it brings its oracles up to date before anything starts (`freshen(world)`: a
    cached world may be hours old)."""

    world: str
    scenarios: Mapping[str, Scenario]
    books: Books
    traffic: Scenario
    load: Callable[[Mapping[str, Any], Any, bool], Any]
    freshen: Callable[[Any], None]
    networks: Mapping[str, int] = field(default_factory=lambda: {DEVNET: 31337})
    per_network: Callable[[Any], Mapping[str, World]] = one_network

    def drills(self) -> dict[str, Scenario]:
        return {name: s for name, s in self.scenarios.items() if s.drill}
