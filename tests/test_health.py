"""/health tells the truth: 503 with the reason when the follower does not advance while the head does, when
detection keeps failing, or when the node lacks what the configuration needs; the capabilities a node lacks
are said at start, naming the rules that lose power; `watchdog doctor --rpc` shows them."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import httpx
import pytest
from fixtures.chain.chainkit import Chain
from fixtures.chain.handler import CRASH_VALUE, TransferHandler
from fixtures.chain.proxy import FlakyProxy
from test_daemon import wait_for, write_config
from typer.testing import CliRunner

from watchdog.chain.events import BlockBundle
from watchdog.cli import app
from watchdog.config import load_settings
from watchdog.daemon import Daemon
from watchdog.devnet import Anvil
from watchdog.finding import Finding

STUCK_VALUE = 777  # a Transfer of this value holds the handler until the test lets it go


class HoldingHandler(TransferHandler):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.release = threading.Event()

    def on_block(self, bundle: BlockBundle) -> list[Finding]:
        if any(log.args and log.args.get("value") == STUCK_VALUE for log in bundle.logs):
            self.release.wait(60)
        return super().on_block(bundle)


def health(daemon: Daemon) -> httpx.Response:
    assert daemon.server is not None
    return httpx.get(f"http://127.0.0.1:{daemon.server.port}/health", timeout=5)


def daemon_for(node: Anvil, tmp_path: Path) -> tuple[Daemon, Chain, HoldingHandler]:
    chain = Chain(node)
    settings = load_settings(write_config(tmp_path, node, chain))
    handler = HoldingHandler(chain.token)
    return Daemon(settings, handler_factory=lambda *_: handler), chain, handler


def test_a_stuck_follower_is_unhealthy_while_the_head_moves_on(fresh_anvil: Anvil, tmp_path: Path) -> None:
    daemon, chain, handler = daemon_for(fresh_anvil, tmp_path)
    daemon.start()
    try:
        wait_for(lambda: health(daemon).status_code == 200, what="healthy at start")
        chain.transfer(STUCK_VALUE)
        fresh_anvil.mine(3)  # the head moves on while detection is held
        wait_for(lambda: health(daemon).status_code == 503, what="unhealthy while stuck")
        [reason] = health(daemon).json()["networks"]["local"]["reasons"]
        assert "has not advanced" in reason and "block(s) ahead" in reason
        handler.release.set()
        wait_for(lambda: health(daemon).status_code == 200, what="healthy again")
    finally:
        handler.release.set()
        daemon.shutdown()


def test_detection_that_keeps_failing_is_unhealthy(fresh_anvil: Anvil, tmp_path: Path) -> None:
    daemon, chain, _ = daemon_for(fresh_anvil, tmp_path)
    daemon.start()
    try:
        wait_for(lambda: health(daemon).status_code == 200, what="healthy at start")
        for _ in range(3):
            chain.transfer(CRASH_VALUE)  # the rule raises on every one of these blocks
        wait_for(lambda: health(daemon).status_code == 503, what="unhealthy after failing detections")
        reasons = health(daemon).json()["networks"]["local"]["reasons"]
        assert any("detection failed on the last 3 blocks" in r for r in reasons)
        chain.transfer(5)  # detection works again
        wait_for(lambda: health(daemon).status_code == 200, what="healthy again")
    finally:
        daemon.shutdown()


def test_a_node_without_tracing_is_said_at_start_and_breaks_a_mempool_config(fresh_anvil: Anvil, tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    proxy = FlakyProxy(fresh_anvil.url, refuse=("debug_", "trace_"))
    chain = Chain(fresh_anvil)
    config = write_config(tmp_path, fresh_anvil, chain, mempool=True)
    config.write_text(config.read_text().replace(f'rpc_urls = ["{fresh_anvil.url}"]', f'rpc_urls = ["{proxy.url}"]'))
    daemon = Daemon(load_settings(config))  # the built-in rules
    caplog.set_level(logging.WARNING)
    daemon.start()
    try:
        wait_for(lambda: health(daemon).status_code == 503, what="unhealthy")
        body = health(daemon).json()["networks"]["local"]
        assert "mempool = true needs debug_traceCall" in " ".join(body["reasons"])
        assert body["capabilities"]["trace"] is False and body["capabilities"]["block_receipts"] is True
        said = [r.getMessage() for r in caplog.records if "the node has no trace" in r.getMessage()]
        assert len(said) == 1 and "flash-loan" in said[0] and "price-manipulation" in said[0]
    finally:
        daemon.shutdown()
        proxy.close()


def test_doctor_shows_what_a_node_can_do(fresh_anvil: Anvil) -> None:
    proxy = FlakyProxy(fresh_anvil.url, refuse=("txpool_",))
    try:
        result = CliRunner().invoke(app, ["doctor", "--rpc", proxy.url, "--json"])
        assert result.exit_code == 0, result.output
        node = json.loads(result.output)["node"]
        assert node["capabilities"]["trace"]["ok"] and not node["capabilities"]["txpool"]["ok"]
        assert "pending-transaction filter" in node["capabilities"]["txpool"]["fallback"]
        text = CliRunner().invoke(app, ["doctor", "--rpc", proxy.url]).output
        assert "txpool" in text and "missing" in text
    finally:
        proxy.close()
