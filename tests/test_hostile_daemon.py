"""The daemon in front of a hostile node: /health answers at once, every request ends by its deadline and says
so, SIGTERM ends the process within seconds whatever the node does, and an unreachable WebSocket is logged."""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fixtures.chain.hostile import HostileRpc
from watchdog.chain.ws import Subscriber
from watchdog.devnet.anvil import free_port

SECRET = "s3cretWsKey42"
VAULT = "0x00000000000000000000000000000000000000aa"


def write_manifest(folder: Path) -> Path:
    path = folder / "manifest.json"
    path.write_text(json.dumps({"chain_id": 31337, "block": 1, "contracts": [
        {"name": "Vault", "address": VAULT, "role": "vault", "abi": []}]}))
    return path


def wait_for_line(log: Path, pattern: str, seconds: float = 60.0) -> re.Match[str]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = re.search(pattern, log.read_text())
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no log line matching {pattern!r} within {seconds:.0f} s:\n{log.read_text()}")


@pytest.mark.timeout(120)
def test_sigterm_stops_a_daemon_stuck_on_a_dripping_node(tmp_path: Path) -> None:
    config = tmp_path / "watchdog.toml"
    write_manifest(tmp_path)
    config.write_text(f"""
[networks.main]
chain_id = 31337
rpc_urls = ["http://user:{SECRET}@127.0.0.1:0/v3/{SECRET}"]
timeout = 1

[protocols.demo]
manifest = "manifest.json"

[store]
url = "sqlite:///wd.db"

[metrics]
port = 0
""")
    with HostileRpc("drip", drip_seconds=0.2) as node:
        config.write_text(config.read_text().replace("127.0.0.1:0", f"127.0.0.1:{node.port}"))
        log = tmp_path / "daemon.log"
        with log.open("w") as out:
            daemon = subprocess.Popen([sys.executable, "-m", "watchdog", "run", "--config", str(config)],
                                      stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            port = int(wait_for_line(log, r"metrics on 127\.0\.0\.1:(\d+)").group(1))
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
            assert health.status_code in (200, 503) and SECRET not in health.text
            wait_for_line(log, r"rpc http://\*\*\*@127\.0\.0\.1:\d+/\.\.\.: no complete answer within 1 s")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0
        finally:
            daemon.kill()
    text = log.read_text()
    assert "SIGTERM received" in text and text.rstrip().endswith("stopped")
    assert SECRET not in text and "Traceback" not in text


def test_an_unreachable_websocket_is_said_once_without_its_key(caplog: pytest.LogCaptureFixture) -> None:
    url = f"ws://user:{SECRET}@127.0.0.1:{free_port()}/ws/{SECRET}"
    subscriber = Subscriber(url, name="main")
    subscriber.subscribe("newHeads", lambda _head: None)
    with caplog.at_level(logging.DEBUG, logger="watchdog.ws"):
        subscriber.start()
        end = time.monotonic() + 30
        while time.monotonic() < end and not any(r.levelno == logging.WARNING for r in caplog.records):
            time.sleep(0.05)
        time.sleep(1.5)  # a few reconnection attempts
        subscriber.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("main: websocket ws://***@127.0.0.1:") and "polled over HTTP" in warnings[0]
    assert SECRET not in caplog.text and not subscriber.connected.is_set()
