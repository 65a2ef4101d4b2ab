"""Playing steps at once on an automining chain: each transaction is mined in its own block as it is sent."""

from __future__ import annotations

import time
from typing import Any

from watchdog.devnet.world import World
from watchdog.errors import RpcError
from watchdog.scenarios.base import STEP_GAS, Step


class ImmediatePlayer:
    """The player of tests (and of the setup and background traffic of drills).

    An attack step may revert (that is how a pause shows); a step of the environment (the keeper, the market, honest
    traffic) that reverts is a broken scenario and raises RpcError."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.steps: list[Step] = []

    def send(self, name: str, call: Any, sender: str, *, actor: str | None = None, attack: bool = True,
             payoff: bool = False, value: int = 0, prepare: bool = False) -> Step:
        w3 = self.world.w3
        sent_at = time.time()
        tx_hash = call.transact({"from": self.world.accounts[sender].address, "gas": STEP_GAS, "value": value})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        step = Step(name, actor or sender, tx_hash.to_0x_hex(), sent_at, block=receipt["blockNumber"],
                    index=receipt["transactionIndex"], mined_at=time.time(), succeeded=receipt["status"] == 1,
                    attack=attack, payoff=payoff, prepare=prepare)
        if not (step.succeeded or attack):
            raise RpcError(f"{name!r} from {sender} reverted ({step.tx_hash}): the scenario's environment is broken")
        self.steps.append(step)
        return step

    def pass_time(self, name: str, seconds: int) -> Step:
        sent_at = time.time()
        self.world.w3.provider.make_request("evm_increaseTime", [seconds])
        self.world.w3.provider.make_request("evm_mine", [])
        step = Step(name, "time", None, sent_at, block=self.world.w3.eth.block_number, mined_at=time.time(),
                    succeeded=True, attack=False)
        self.steps.append(step)
        return step

    def next_block(self) -> None:
        """Nothing to wait for: every transaction already has a block of its own."""
