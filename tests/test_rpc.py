"""The JSON-RPC client and the follower against misbehaving providers (a local proxy in front of anvil)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcAnswerError, RpcClient, RpcUnavailable
from watchdog.redaction import redact_url
from watchdog.chain.ws import Subscriber
from watchdog.devnet import Anvil
from watchdog.devnet.anvil import free_port

from fixtures.chain.chainkit import TRANSFER_TOPIC, Chain, findings, make_follower, values
from fixtures.chain.proxy import FlakyProxy


def test_batch_returns_results_in_order_and_errors_in_place(anvil: Anvil) -> None:
    rpc = RpcClient(anvil.url)
    head, chain_id, bad = rpc.batch([("eth_blockNumber", []), ("eth_chainId", []), ("eth_nosuchmethod", [])],
                                    errors_as_values=True)
    assert int(head, 16) == anvil.block_number() and int(chain_id, 16) == 31337
    assert isinstance(bad, RpcAnswerError)
    with pytest.raises(RpcAnswerError):
        rpc.call("eth_nosuchmethod")


def test_a_dead_endpoint_fails_over_and_all_dead_raises(anvil: Anvil) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    rpc = RpcClient([dead, anvil.url], retries=1, backoff=0.01)
    assert int(rpc.call("eth_chainId"), 16) == 31337
    health = {h["url"]: h for h in rpc.health()}
    assert health[dead]["failures"] >= 1 and not health[dead]["healthy"]
    assert health[anvil.url]["failures"] == 0
    with pytest.raises(RpcUnavailable, match="no RPC endpoint answered"):
        RpcClient([dead], retries=2, backoff=0.01).call("eth_chainId")
    # API keys in hosted endpoint URLs never reach errors, logs, metrics or /health.
    keyed = f"http://user:secret@127.0.0.1:{free_port()}/v3/0123456789abcdef?key=s3cret"
    client = RpcClient([keyed], retries=0)
    with pytest.raises(RpcUnavailable) as err:
        client.call("eth_chainId")
    shown = str(err.value) + repr(client.health())
    assert "secret" not in shown and "0123456789abcdef" not in shown and "s3cret" not in shown
    assert redact_url(keyed) == f"http://***@127.0.0.1:{keyed.split(':')[3].split('/')[0]}/..."


@pytest.mark.parametrize("healthy_twin", [True, False], ids=["failover", "retries-only"])
def test_an_endpoint_failing_30_percent_still_gives_complete_results(anvil: Anvil, tmp_path: Path, healthy_twin: bool) -> None:
    chain = Chain(anvil)
    for value in range(1, 31):
        chain.transfer(value)
    chain.flash(5000)
    proxy = FlakyProxy(anvil.url, failure_rate=0.3)
    try:
        rpc = RpcClient([proxy.url, anvil.url] if healthy_twin else [proxy.url], backoff=0.01)
        follower = make_follower(anvil, chain, tmp_path, max_range=4, rpc=rpc)
        follower.run_until(anvil.block_number(), max_failures=50)
        assert proxy.failed > 0
        stored = findings(follower.store)
        assert values([r for r in stored if r.rule_id == "test.transfer"]) == list(range(1, 31))
        assert values([r for r in stored if r.rule_id == "test.flash"]) == [5000]
        assert len({r.dedup_key for r in stored}) == len(stored) == 31
        if healthy_twin:  # health scoring moved the traffic to the good endpoint
            scores = {h["url"]: h["score"] for h in follower.rpc.health()}
            assert scores[anvil.url] > scores[proxy.url]
    finally:
        proxy.close()


def test_log_ranges_split_when_the_provider_refuses_them(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    for value in range(1, 21):
        chain.transfer(value)
    proxy = FlakyProxy(anvil.url, max_log_range=3)
    try:
        follower = make_follower(anvil, chain, tmp_path, max_range=1000, rpc=RpcClient(proxy.url))
        follower.run_until()
        assert proxy.refused_ranges > 0
        assert values(findings(follower.store)) == list(range(1, 21))
    finally:
        proxy.close()


def test_websocket_subscriptions_deliver_heads_logs_and_pending_hashes(anvil: Anvil) -> None:
    chain = Chain(anvil)
    got: dict[str, list] = {"newHeads": [], "logs": [], "newPendingTransactions": []}
    arrived = threading.Event()

    def collect(kind: str):
        def callback(item: object) -> None:
            got[kind].append(item)
            if all(got.values()):
                arrived.set()
        return callback

    ws = Subscriber(anvil.ws_url)
    ws.subscribe("newHeads", collect("newHeads"))
    ws.subscribe("logs", collect("logs"), {"address": chain.token, "topics": [TRANSFER_TOPIC]})
    ws.subscribe("newPendingTransactions", collect("newPendingTransactions"))
    ws.start()
    try:
        assert ws.connected.wait(10)
        tx = chain.transfer(42)
        assert arrived.wait(10)
    finally:
        ws.stop()
    assert got["logs"][0]["transactionHash"] == tx
    assert tx in got["newPendingTransactions"]
    assert int(got["newHeads"][-1]["number"], 16) == anvil.block_number()


def test_block_reader_pins_latest_to_its_block_and_caches(anvil: Anvil) -> None:
    chain = Chain(anvil)
    tx = chain.forward(3)
    number = anvil.block_number()
    proxy = FlakyProxy(anvil.url)
    try:
        reader = BlockReader(RpcClient(proxy.url), "local", number)
        before = reader.balance(chain.sender)
        chain.transfer(1)  # a later block changes the sender's balance
        assert reader.balance(chain.sender) == before == int(anvil.rpc("eth_getBalance", [chain.sender, hex(number)]), 16)
        assert reader.code(chain.token) == anvil.rpc("eth_getCode", [chain.token, "latest"])
        assert reader.transaction(tx).to == chain.router
        trace = reader.trace(tx)
        assert [f.to for f in trace.walk()] == [chain.router, chain.token]
        assert trace.walk()[1].logs[0].address == chain.token
        requests = proxy.requests
        reader.balance(chain.sender), reader.trace(tx), reader.transaction(tx), reader.code(chain.token)
        assert proxy.requests == requests  # all from the cache
    finally:
        proxy.close()
