"""Playing a scenario at once (automine) and reading what it did: an attack's take, or honest traffic by kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from watchdog.devnet.world import World
from watchdog.scenarios.base import Books, Scenario, State, Step
from watchdog.scenarios.catalogue import catalogue
from watchdog.scenarios.player import ImmediatePlayer


@dataclass(frozen=True)
class Payoff:
    """A step where the attacker takes value out, what it took (in the world's quote asset) and the pool after it."""

    step: Step
    profit: int
    pool_after: int


@dataclass
class AttackResult:
    """What an attack did, counted from the end of its preparation: its steps, each payoff, the attacker's profit
    and the funds at risk (the pool) before and after. Its transaction is its first payoff step."""

    name: str
    steps: list[Step]
    payoffs: list[Payoff]
    attacker_profit: int
    pool_before: int
    pool_after: int
    details: State  # the scenario's state: parameters, the attacker's `contract`, key transactions

    @property
    def tx_hash(self) -> str | None:
        return self.payoffs[0].step.tx_hash

    @property
    def succeeded(self) -> bool | None:
        return self.payoffs[0].step.succeeded

    @property
    def block_number(self) -> int | None:
        return self.payoffs[0].step.block

    @property
    def attacker_contract(self) -> str:
        return self.details.get("contract", "")

    @property
    def pool_loss(self) -> int:
        return self.pool_before - self.pool_after


@dataclass
class TrafficResult:
    """What honest traffic did: its transactions by kind (the steps' names)."""

    steps: list[Step]

    @property
    def txs(self) -> dict[str, list[str]]:
        kinds: dict[str, list[str]] = {}
        for step in self.steps:
            if step.tx_hash is not None:
                kinds.setdefault(step.name, []).append(step.tx_hash)
        return kinds

    def count(self, kind: str) -> int:
        return len(self.txs.get(kind, []))


class _Counting(ImmediatePlayer):
    """Notes what each payoff step took."""

    def __init__(self, world: World, books: Books, networks: Mapping[str, World]) -> None:
        super().__init__(world, networks)
        self.books = books
        self.payoffs: list[Payoff] = []

    def send(self, name: str, call: Any, sender: str, *, actor: str | None = None, attack: bool = True,
             payoff: bool = False, value: int = 0, prepare: bool = False) -> Step:
        before = self.books.holdings(self.world) if payoff else {}
        step = super().send(name, call, sender, actor=actor, attack=attack, payoff=payoff, value=value, prepare=prepare)
        if payoff:
            self.payoffs.append(Payoff(step, self.books.gain(self.world, before), self.books.at_risk(self.world)))
        return step


def play_attack(scenario: Scenario, world: World, **params: Any) -> AttackResult:
    """Prepare and play an attack at once on `world` (automine); `params` override the scenario's defaults."""
    if scenario.benign:
        raise ValueError(f"{scenario.name} is not an attack: play it with play_traffic")
    books = catalogue(scenario.world).books
    state = scenario.setup(world, **params)
    player = _Counting(world, books, catalogue(scenario.world).per_network(world))
    before, pool_before = books.holdings(world), books.at_risk(world)
    scenario.play(player, state)
    return AttackResult(scenario.name, player.steps, player.payoffs, books.gain(world, before), pool_before,
                        books.at_risk(world), state)


def play_traffic(scenario: Scenario, world: World, **params: Any) -> TrafficResult:
    """Prepare and play honest traffic at once on `world` (automine); every transaction must succeed."""
    if not scenario.benign:
        raise ValueError(f"{scenario.name} is an attack: play it with play_attack")
    player = ImmediatePlayer(world, catalogue(scenario.world).per_network(world))
    scenario.play(player, scenario.setup(world, **params))
    return TrafficResult(player.steps)
