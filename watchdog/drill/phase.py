"""The attack phase of a drill: the clocked player of a scenario's steps (watchdog.scenarios.Player). It sends each
step on the clocked devnet (the chain its contract is on, for a world on several) and records what happened to it.

A step is one transaction (by the attacker, a compromised key, the keeper or the market) or a condition
(time passing). Transactions are sent with fixed gas, without an estimate, so that a paused protocol yields a
mined, reverted transaction instead of an error: that is how a drill sees containment.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.drill.clock import BlockClock
from watchdog.drill.watch import Watchdog
from watchdog.scenarios.base import STEP_GAS, Step
from watchdog.scenarios.player import network_of


@dataclass
class Chain:
    """One network of a drill: its anvil, its block clock and the World bound to it."""

    anvil: Anvil
    clock: BlockClock
    world: World


class AttackPhase:
    def __init__(self, world: Any, chains: Mapping[str, Chain], emit: Callable[[str, dict[str, Any]], None],
                 watchdog: Watchdog | None = None) -> None:
        self.world = world
        self.chains = dict(chains)
        self.watchdog = watchdog
        self.emit = emit
        self.steps: list[Step] = []
        self.pending: set[str] = set()  # sent attack txs that the mempool path should judge before the next block

    def send(self, name: str, call: Any, sender: str, *, actor: str | None = None, attack: bool = True,
             payoff: bool = False, value: int = 0, prepare: bool = False) -> Step:
        """Send `call` from the dev account `sender` and wait until it is mined (success or revert).

        Attack transactions reach watched contracts, so the watchdog's mempool path judges them: the clock
        waits for that judgement before the next block (up to its patience)."""
        network = network_of({n: c.world for n, c in self.chains.items()}, call)
        chain = self.chains[network]
        tx: dict[str, Any] = {"from": self.world.accounts[sender].address, "gas": STEP_GAS, "value": value}
        with chain.clock.sending:  # the block clock waits while a transaction is on its way
            sent_at = time.time()
            tx_hash = call.transact(tx).to_0x_hex()
            if attack:
                self.pending.add(tx_hash)
        step = Step(name, actor or sender, tx_hash, sent_at, attack=attack, payoff=payoff, prepare=prepare, network=network)
        self.emit("step_sent", {"step": step})
        try:
            receipt = chain.world.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.02)
        finally:
            self.pending.discard(tx_hash)
        return self._mined(step, receipt, chain.clock)

    def _mined(self, step: Step, receipt: Any, clock: BlockClock) -> Step:
        step.block, step.index = receipt["blockNumber"], receipt["transactionIndex"]
        step.succeeded = receipt["status"] == 1
        step.mined_at = clock.mined_at(step.block) or time.time()
        self.steps.append(step)
        self.emit("step_mined", {"step": step})
        return step

    def pass_time(self, name: str, seconds: int) -> Step:
        """Let `seconds` of chain time pass on every network, carried by the next block of each clock. Chain time
        jumps, wall time does not: the watchdog's clock-driven checks (staleness) get one scheduled run after the
        jump, as they would have had many during those seconds on a real chain."""
        sent_at = time.time()
        for chain in self.chains.values():
            chain.anvil.rpc("evm_increaseTime", [seconds])
        blocks = {network: chain.clock.wait_block() for network, chain in self.chains.items()}
        if self.watchdog is not None:  # one whole scheduled run after the block
            run, deadline = self.watchdog.next_scheduled_run(), time.monotonic() + 30
            while not self.watchdog.scheduled_done(run) and time.monotonic() < deadline:
                time.sleep(0.02)
        network, block = next(iter(blocks.items()))
        step = Step(name, "time", None, sent_at, block=block, mined_at=self.chains[network].clock.mined_at(block) or time.time(),
                    succeeded=True, attack=False, network=network)
        self.steps.append(step)
        self.emit("step_mined", {"step": step})
        return step

    def next_block(self) -> None:
        """Wait for the next block of every network (the attacker goes again in a later block, or syncs right after
        one)."""
        for chain in self.chains.values():
            chain.clock.wait_block()
