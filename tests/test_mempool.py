"""The mempool follower: pending calls that reach watched contracts (directly or through a contract) are
simulated and handed to the rules before inclusion; unrelated pending transactions stay quiet."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from watchdog.chain.abi import AbiRegistry
from watchdog.pipeline.mempool import MempoolFollower
from watchdog.chain.rpc import RpcClient
from watchdog.chain.ws import Subscriber
from watchdog.devnet import Anvil
from watchdog.manifest import load_manifest
from watchdog.store import Store

from fixtures.chain.chainkit import Chain, findings, make_follower
from fixtures.chain.handler import TransferHandler


class Recording(TransferHandler):
    """The fixture handler, remembering which pending transactions it was shown."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.shown: list[str] = []

    def on_pending(self, pending, reader):  # noqa: ANN001
        self.shown.append(pending.tx.hash)
        return super().on_pending(pending, reader)


@contextmanager
def manual_mining(node: Anvil) -> Iterator[None]:
    """Automine off inside the block (restored after: reverting a snapshot does not restore it)."""
    node.set_automine(False)
    try:
        yield
    finally:
        node.mine(1)
        node.set_automine(True)


def mempool_for(node: Anvil, chain: Chain, tmp_path: Path) -> tuple[MempoolFollower, Recording]:
    manifest = load_manifest(chain.manifest(tmp_path))
    registry = AbiRegistry()
    registry.add_manifest(manifest)
    handler = Recording(chain.token)
    store = Store(f"sqlite:///{tmp_path / 'watchdog.db'}")
    follower = MempoolFollower("local", RpcClient(node.url), store, handler, {c.address for c in manifest.contracts}, registry)
    return follower, handler


def test_pending_calls_into_watched_contracts_are_simulated_before_inclusion(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    mempool, handler = mempool_for(anvil, chain, tmp_path)
    with manual_mining(anvil):
        assert mempool.poll() == []  # installs the pending-transaction filter
        direct = chain.transfer(2500, wait=False)
        indirect = chain.forward(4000, wait=False)       # Router -> Token: only the trace shows it
        unrelated = chain.flash(10, wait=False)          # a contract nobody watches
        plain = chain.node.rpc("eth_sendTransaction", [{"from": chain.sender, "to": chain.accounts[3], "value": "0x1"}])
        head = anvil.block_number()

        new = mempool.process(mempool.poll())
        assert anvil.block_number() == head  # nothing was mined: detection happened before inclusion
        assert sorted(handler.shown) == sorted([direct, indirect])
        assert unrelated not in handler.shown and plain not in handler.shown
        assert {(r.tx_hash, r.evidence["value"], r.pending) for r in new} == {(direct, 2500, True), (indirect, 4000, True)}
        # Seen once, simulated once.
        assert mempool.process([direct, indirect]) == [] and len(handler.shown) == 2

    # Once mined, the block follower finds the same transactions; pending findings stay as they were.
    follower = make_follower(anvil, chain, tmp_path, store=mempool.store)
    follower.run_until()
    stored = findings(mempool.store)
    assert sorted((r.rule_id, r.evidence["value"]) for r in stored) == [
        ("test.flash", 10), ("test.pending", 2500), ("test.pending", 4000), ("test.transfer", 2500), ("test.transfer", 4000)]


def test_pending_hashes_arrive_over_websocket(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    mempool, handler = mempool_for(anvil, chain, tmp_path)
    ws = Subscriber(anvil.ws_url)
    ws.subscribe("newPendingTransactions", mempool.enqueue)
    mempool.subscribed = ws.connected
    ws.start()
    stop = threading.Event()
    runner = threading.Thread(target=mempool.run, args=(stop,), daemon=True)
    found = threading.Event()
    stored: list[str] = []
    mempool.sinks.append(lambda new, _retracted: (stored.extend(r.tx_hash for r in new), found.set()))
    try:
        with manual_mining(anvil):
            assert ws.connected.wait(10)
            runner.start()
            sent = chain.forward(1234, wait=False)
            assert found.wait(15)
    finally:
        stop.set()
        runner.join(5)
        ws.stop()
    assert handler.shown == [sent] and stored == [sent]
