"""Playing steps at once on an automining chain: each transaction is mined in its own block as it is sent."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from watchdog.devnet.world import World
from watchdog.errors import RpcError
from watchdog.scenarios.base import DEVNET, STEP_GAS, Step


def network_of(networks: Mapping[str, World], call: Any) -> str:
    """The network a contract call goes to: the one whose connection its contract is bound to (else the first)."""
    bound = getattr(call, "w3", None)
    return next((name for name, net in networks.items() if net.w3 is bound), next(iter(networks)))


class ImmediatePlayer:
    """The player of tests (and of the setup and background traffic of drills).

    An attack step may revert (that is how a pause shows); a step of the environment (the keeper, the market, honest
    traffic) that reverts is a broken scenario and raises RpcError."""

    def __init__(self, world: Any, networks: Mapping[str, World] | None = None) -> None:
        """`networks`: the World of each network of a world on several chains (default: `world` alone)."""
        self.world = world
        self.networks = dict(networks or {DEVNET: world})
        self.steps: list[Step] = []

    def send(self, name: str, call: Any, sender: str, *, actor: str | None = None, attack: bool = True,
             payoff: bool = False, value: int = 0, prepare: bool = False) -> Step:
        network = network_of(self.networks, call)
        sent_at = time.time()
        tx_hash = call.transact({"from": self.world.accounts[sender].address, "gas": STEP_GAS, "value": value})
        receipt = self.networks[network].w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        step = Step(name, actor or sender, tx_hash.to_0x_hex(), sent_at, block=receipt["blockNumber"],
                    index=receipt["transactionIndex"], mined_at=time.time(), succeeded=receipt["status"] == 1,
                    attack=attack, payoff=payoff, prepare=prepare, network=network)
        if not (step.succeeded or attack):
            raise RpcError(f"{name!r} from {sender} reverted ({step.tx_hash}): the scenario's environment is broken")
        self.steps.append(step)
        return step

    def pass_time(self, name: str, seconds: int) -> Step:
        sent_at = time.time()
        for net in self.networks.values():
            net.w3.provider.make_request("evm_increaseTime", [seconds])
            net.w3.provider.make_request("evm_mine", [])
        first, net = next(iter(self.networks.items()))
        step = Step(name, "time", None, sent_at, block=net.w3.eth.block_number, mined_at=time.time(),
                    succeeded=True, attack=False, network=first)
        self.steps.append(step)
        return step

    def next_block(self) -> None:
        """Nothing to wait for: every transaction already has a block of its own."""
