"""The attack phase of a drill: sends each step on the clocked devnet and records what happened to it.

A step is one transaction (by the attacker, a compromised key, the keeper or the market) or a condition
(time passing). Attack transactions are sent with fixed gas, without an estimate, so that a paused
protocol yields a mined, reverted transaction instead of an error: that is how a drill sees containment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from web3 import Web3

from watchdog.devnet import Anvil
from watchdog.devnet.safe import ZERO_ADDRESS, SafeTx
from watchdog.devnet.world import World
from watchdog.drill.clock import BlockClock
from watchdog.drill.watch import Watchdog

ATTACK_GAS = 3_000_000


@dataclass
class Step:
    name: str
    actor: str  # attacker | compromised keys | keeper | market | time
    tx_hash: str | None
    sent_at: float
    block: int | None = None
    index: int | None = None  # position in its block
    mined_at: float | None = None
    succeeded: bool | None = None
    attack: bool = True  # a step of the attack (vs the environment it exploits)
    payoff: bool = False  # a step where the attacker takes value out

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.name, "actor": self.actor, "tx": self.tx_hash, "block": self.block,
                "succeeded": self.succeeded, "attack": self.attack, "payoff": self.payoff}


class AttackPhase:
    def __init__(self, world: World, anvil: Anvil, clock: BlockClock, emit: Callable[[str, dict[str, Any]], None],
                 watchdog: Watchdog | None = None) -> None:
        self.world = world
        self.watchdog = watchdog
        self.anvil = anvil
        self.clock = clock
        self.emit = emit
        self.steps: list[Step] = []
        self.pending: set[str] = set()  # sent attack txs that the mempool path should judge before the next block

    def contract(self, address: str, abi: list[dict[str, Any]]) -> Any:
        return self.world.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)

    def send(self, name: str, call: Any, sender: str, *, actor: str | None = None, attack: bool = True,
             payoff: bool = False) -> Step:
        """Send `call` from the dev account `sender` and wait until it is mined (success or revert).

        Attack transactions reach watched contracts, so the watchdog's mempool path judges them: the clock
        waits for that judgement before the next block (up to its patience)."""
        tx: dict[str, Any] = {"from": self.world.accounts[sender].address, "gas": ATTACK_GAS}
        with self.clock.sending:  # the block clock waits while a transaction is on its way
            sent_at = time.time()
            tx_hash = call.transact(tx).to_0x_hex()
            if attack:
                self.pending.add(tx_hash)
        step = Step(name, actor or sender, tx_hash, sent_at, attack=attack, payoff=payoff)
        self.emit("step_sent", {"step": step})
        try:
            receipt = self.world.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.02)
        finally:
            self.pending.discard(tx_hash)
        return self._mined(step, receipt)

    def governance(self, name: str, contract: str, function: str, *args: Any) -> Step:
        """A call executed by the Safe with two owner signatures: here the owners' keys are the attacker's.
        Sent like any attack step (pending first, judged by the mempool path before the next block)."""
        world = self.world
        target, safe = world.contract(contract), world.contract("Safe")
        data = bytes.fromhex(target.encode_abi(function, list(args))[2:])
        safe_tx = SafeTx(safe.address, world.w3.eth.chain_id, target.address, data, safe.functions.nonce().call())
        owners = world.accounts.safe_owners[:2]
        call = safe.functions.execTransaction(safe_tx.to, 0, safe_tx.data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS,
                                              safe_tx.signatures(owners))
        return self.send(name, call, owners[0].name, actor="compromised keys")

    def _mined(self, step: Step, receipt: Any) -> Step:
        step.block, step.index = receipt["blockNumber"], receipt["transactionIndex"]
        step.succeeded = receipt["status"] == 1
        step.mined_at = self.clock.mined_at(step.block) or time.time()
        self.steps.append(step)
        self.emit("step_mined", {"step": step})
        return step

    def pass_time(self, name: str, seconds: int) -> Step:
        """Let `seconds` of chain time pass, carried by the next block of the clock. Chain time jumps, wall time
        does not: the watchdog's clock-driven checks (staleness) get one scheduled run after the jump, as they
        would have had many during those seconds on a real chain."""
        sent_at = time.time()
        self.anvil.rpc("evm_increaseTime", [seconds])
        block = self.clock.wait_block()
        if self.watchdog is not None:  # one whole scheduled run after the block
            run, deadline = self.watchdog.next_scheduled_run(), time.monotonic() + 30
            while not self.watchdog.scheduled_done(run) and time.monotonic() < deadline:
                time.sleep(0.02)
        step = Step(name, "time", None, sent_at, block=block, mined_at=self.clock.mined_at(block) or time.time(),
                    succeeded=True, attack=False)
        self.steps.append(step)
        self.emit("step_mined", {"step": step})
        return step

    def next_block(self) -> int:
        """Wait for the next block (the attacker goes again in a later block, or syncs right after one)."""
        return self.clock.wait_block()
