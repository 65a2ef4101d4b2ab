"""Scenarios as steps that a player paces: each scenario function sets up what it needs (mined at once), then
returns a `Play` whose `steps` generator yields one step at a time:

- `Tx(label, sender, call, kind)`: one transaction from the named account (`call` is a web3 contract function or
  constructor, built when the step is yielded, so it sees the chain as the previous steps left it);
- `Wait(label, seconds)`: chain time passes (carried by the next block).

Every transaction lands in a later block than the one before it: a player sends a step, waits until it is mined,
then asks for the next. Kinds say whose transaction it is: `prepare` (the attacker gets ready: deploys, funds, buys
the options it will exploit), `exploit` (the manipulation itself), `payoff` (value leaves the victim towards the
attacker), `environment` (someone else's transaction the attack needs: a victim's deposit, the keeper, the
`play(world, p)` plays it all at once on an automining anvil (`play_step` one step); a drill can pace the same
steps block by block instead, then call `p.outcome(records)`. Players send nothing back into the generator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from watchdog.devnet.world2.chain import GAS, HarborWorld

Kind = Literal["prepare", "exploit", "payoff", "environment", "benign"]
ATTACK_KINDS = ("prepare", "exploit", "payoff")


@dataclass(frozen=True)
class Tx:
    label: str
    sender: str  # an account name of world.accounts
    call: Any  # web3 ContractFunction or ContractConstructor
    kind: Kind
    value: int = 0
    gas: int = GAS

    @property
    def attack(self) -> bool:
        return self.kind in ATTACK_KINDS

    @property
    def payoff(self) -> bool:
        return self.kind == "payoff"


@dataclass(frozen=True)
class Wait:
    label: str
    seconds: int


Step = Tx | Wait


@dataclass(frozen=True)
class TxRecord:
    label: str
    kind: Kind
    sender: str
    tx_hash: str
    block: int
    succeeded: bool


@dataclass
class Outcome:
    """What a play did. Amounts are raw hUSD units (6 decimals)."""

    name: str
    records: list[TxRecord]
    taken: int  # the attacker's net gain (its own balance and its contracts'), after every cost; 0 for benign plays
    drained: dict[str, int]  # hUSD each victim (contract or account name) lost over the play
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def attack_records(self) -> list[TxRecord]:
        return [r for r in self.records if r.kind in ATTACK_KINDS]

    @property
    def attack_blocks(self) -> list[int]:
        return sorted({r.block for r in self.attack_records})

    @property
    def payoff_blocks(self) -> list[int]:
        return sorted({r.block for r in self.records if r.kind == "payoff" and r.succeeded})

    @property
    def reverted(self) -> list[TxRecord]:
        return [r for r in self.records if not r.succeeded]


class Play:
    """A scenario ready to play. The baseline for `taken` and `drained` is read when the play is created."""

    def __init__(self, world: HarborWorld, name: str, steps: Callable[["Play"], Iterator[Step]], *,
                 attacker: str | None = None, victims: tuple[str, ...] = (),
                 details: Callable[[], dict[str, Any]] | None = None) -> None:
        self.world = world
        self.name = name
        self.attacker = attacker
        self.victims = victims
        self.holdings: list[str] = []  # contracts whose hUSD counts as the attacker's (its own deployments)
        self._details = details
        self._attacker_start = world.usd_of(attacker) if attacker else 0
        self._victims_start = {victim: self._usd(victim) for victim in victims}
        self.steps: Iterator[Step] = steps(self)

    @property
    def is_attack(self) -> bool:
        return self.attacker is not None

    def _usd(self, holder: str) -> int:
        return self.world.usd_of(self.world.addresses.get(holder, holder))

    def outcome(self, records: list[TxRecord]) -> Outcome:
        taken = 0
        if self.attacker:
            taken = self.world.usd_of(self.attacker) + sum(self.world.usd_of(h) for h in self.holdings)
            taken -= self._attacker_start
        drained = {victim: start - self._usd(victim) for victim, start in self._victims_start.items()}
        return Outcome(self.name, records, taken, drained, self._details() if self._details else {})


def play_step(world: HarborWorld, step: Step) -> TxRecord | None:
    """Play one step now (anvil automining): a transaction is mined in a block of its own and recorded, reverted or
    not; a wait moves chain time on by one block."""
    if isinstance(step, Wait):
        world.warp(step.seconds)
        return None
    receipt = world.send(step.call, step.sender, value=step.value, gas=step.gas, check=False)
    return TxRecord(step.label, step.kind, step.sender, receipt["transactionHash"], int(receipt["blockNumber"], 16),
                    int(receipt["status"], 16) == 1)


def play(world: HarborWorld, scenario: Play) -> Outcome:
    """Play every step now, one transaction per block; reverted steps are recorded, not raised."""
    records = [record for step in scenario.steps if (record := play_step(world, step)) is not None]
    return scenario.outcome(records)
