"""Several networks in one daemon: each has its own lock and its own rule state, so a network whose node or
detection is stuck does not hold up another, and two chains with the same contract addresses never mix."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.chain.chainkit import Chain
from test_daemon import wait_for

from watchdog.config import parse_settings
from watchdog.daemon import Daemon
from watchdog.detect import Context, Engine, Rule
from watchdog.devnet import Anvil
from watchdog.store import Store, rulestate

HELD = 777  # a Transfer of this value holds detection on its network until the test lets it go


class CountTransfers(Rule):
    """Counts the token's transfers in rule state; holds on a held value (a network whose detection hangs)."""

    id = "count-transfers"
    title = "Transfer counted"
    release = threading.Event()

    def on_block(self, ctx: Context):
        moved = [e for e in ctx.events("Transfer") if e.address == ctx.registry.resolve("Token").address]
        if any(e.args.get("value") == HELD for e in moved):
            self.release.wait(60)
        ctx.state.set("count", ctx.state.get("count", 0) + len(moved))
        return ()


@pytest.fixture
def two_chains() -> Iterator[tuple[Anvil, Anvil]]:
    with Anvil(chain_id=31337) as first, Anvil(chain_id=31338) as second:
        yield first, second


def test_a_stuck_network_does_not_hold_up_another_and_state_stays_apart(two_chains: tuple[Anvil, Anvil],
                                                                        tmp_path: Path) -> None:
    slow_node, fast_node = two_chains
    slow, fast = Chain(slow_node), Chain(fast_node)
    assert slow.token == fast.token  # the same deployer and nonces: the same addresses on both chains
    networks, protocols = {}, {}
    for name, node, chain in (("slow", slow_node, slow), ("fast", fast_node, fast)):
        folder = tmp_path / name
        folder.mkdir()
        networks[name] = {"chain_id": int(node.rpc("eth_chainId"), 16), "rpc_urls": [node.url], "ws_url": node.ws_url,
                          "start_block": node.block_number() + 1, "poll_interval": 0.2}
        protocols[name] = {"network": name, "manifest": str(chain.manifest(folder))}
    settings = parse_settings({"networks": networks, "protocols": protocols, "metrics": {"enabled": False},
                               "schedule": {"rules_interval": 3600}}, "test", tmp_path)

    def engine(settings, network, manifest, store) -> Engine:  # noqa: ANN001 (factory signature)
        return Engine(network, manifest, store, builtin=False, rule_classes=[CountTransfers])

    CountTransfers.release.clear()
    daemon = Daemon(settings, handler_factory=engine, store=Store(f"sqlite:///{tmp_path / 'wd.db'}"))
    daemon.start()
    try:
        slow.transfer(HELD)  # the slow network's detection now hangs on this block
        for value in (1, 2, 3):
            fast.transfer(value)
        fast_follower = daemon.networks["fast"].follower
        wait_for(lambda: fast_follower.checkpoint == fast_node.block_number(), what="the fast network at its head")
        assert (daemon.networks["slow"].follower.checkpoint or 0) < slow_node.block_number()  # still held
        CountTransfers.release.set()
        slow.transfer(5)
        slow_follower = daemon.networks["slow"].follower
        wait_for(lambda: slow_follower.checkpoint == slow_node.block_number(), what="the slow network at its head")
    finally:
        CountTransfers.release.set()
        daemon.shutdown()
    with Store(f"sqlite:///{tmp_path / 'wd.db'}").session() as s:
        assert rulestate.get_value(s, "fast", "count-transfers", "count") == 3
        assert rulestate.get_value(s, "slow", "count-transfers", "count") == 2
