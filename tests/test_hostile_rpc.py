"""A hostile node costs a request its deadline, never a stuck thread, the memory, a traceback or a secret.

Every request ends by its deadline (connection and whole answer), answers above the size cap are refused with
a log line naming the endpoint, malformed answers count as that endpoint failing and the client fails over."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

import pytest

from fixtures.chain.hostile import HostileRpc
from watchdog.chain.rpc import RpcClient, RpcUnavailable

SECRET = "hunter2Secret0xKEY"
MiB = 1024 * 1024


@pytest.fixture
def honest():
    with HostileRpc("honest", head=100) as server:
        yield server


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["drip", "silent"])
def test_a_node_that_drips_or_keeps_silent_costs_one_deadline(mode: str) -> None:
    with HostileRpc(mode, drip_seconds=0.2) as server:
        client = RpcClient(server.url, timeout=1.0, retries=1, backoff=0.01)
        with pytest.raises(RpcUnavailable, match="no complete answer within 1 s"):
            client.call("eth_chainId")
        [health] = client.health()
        assert health["failures"] == 2 and not health["healthy"]
        client.close()


@pytest.mark.timeout(60)
def test_interrupt_ends_a_request_in_flight_whatever_its_deadline() -> None:
    with HostileRpc("drip", drip_seconds=0.2) as server:
        client = RpcClient(server.url, timeout=600.0, retries=3)
        failure: list[Exception] = []

        def call() -> None:
            try:
                client.call("eth_chainId")
            except RpcUnavailable as exc:
                failure.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        while server.requests == 0:
            threading.Event().wait(0.05)
        client.interrupt()
        caller.join(timeout=30)
        assert not caller.is_alive() and "stopped" in str(failure[0])
        with pytest.raises(RpcUnavailable, match="stopped"):
            client.call("eth_chainId")  # and nothing new is sent


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["huge", "huge_unannounced"])
def test_an_answer_above_the_size_cap_is_refused_and_said(mode: str, honest: HostileRpc, caplog: pytest.LogCaptureFixture) -> None:
    with HostileRpc(mode, huge_bytes=8 * MiB) as server:
        client = RpcClient([server.keyed_url(SECRET), honest.url], timeout=10.0, retries=0, max_answer_bytes=1 * MiB)
        with caplog.at_level(logging.WARNING, logger="watchdog.rpc"):
            assert client.call("eth_blockNumber") == hex(100)  # the next endpoint answered
        refused = [r.getMessage() for r in caplog.records if "limit" in r.getMessage()]
        assert len(refused) == 1 and "1 MiB" in refused[0] and "refused" in refused[0]
        assert f"127.0.0.1:{server.port}" in refused[0] and SECRET not in caplog.text
        big = next(h for h in client.health() if h["url"] != honest.url)
        assert big["failures"] == 1 and SECRET not in repr(client.health())
        client.close()


@pytest.mark.parametrize("mode", ["garbage", "html", "wrong_id", "list_id", "missing_fields"])
def test_malformed_answers_fail_the_endpoint_over_to_the_next(mode: str, honest: HostileRpc) -> None:
    with HostileRpc(mode) as server:
        client = RpcClient([server.url, honest.url], timeout=5.0, retries=0)
        assert client.batch([("eth_chainId", []), ("eth_blockNumber", [])]) == [hex(31337), hex(100)]
        bad = next(h for h in client.health() if h["url"] == server.url)
        assert bad["failures"] == 1 and bad["last_error"]
        alone = RpcClient(server.url, timeout=5.0, retries=1, backoff=0.01)
        with pytest.raises(RpcUnavailable, match="no RPC endpoint answered after 2 attempts"):
            alone.call("eth_chainId")


def test_a_stale_head_is_not_asked_about_blocks_it_lacks(honest: HostileRpc) -> None:
    with HostileRpc("stale_head", head=40) as stale:
        client = RpcClient([stale.url, honest.url], timeout=5.0, retries=0)
        client.refresh_heads()
        assert client.call("eth_blockNumber", at_least=90) == hex(100)
        assert {h["url"]: h["lagging"] for h in client.health()} == {stale.url: True, honest.url: False}


@pytest.mark.parametrize("command", [["doctor"], ["replay", "--block", "1"]])
def test_bad_hex_from_the_node_is_one_line_not_a_traceback(tmp_path, command: list[str]) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"chain_id": 31337, "contracts": [
        {"name": "Vault", "address": "0x00000000000000000000000000000000000000aa", "role": "vault"}]}))
    extra = ["--manifest", str(tmp_path / "manifest.json")] if command[0] == "replay" else []
    with HostileRpc("bad_hex") as server:
        done = subprocess.run([sys.executable, "-m", "watchdog", *command, *extra, "--rpc", server.keyed_url(SECRET)],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and SECRET not in done.stdout + done.stderr
    method = "eth_chainId" if command[0] == "doctor" else "eth_blockNumber"
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        f"error: the node answered {method} with '0xzz', not a hex number: is it an Ethereum JSON-RPC endpoint?"]
