"""`watchdog run` end to end on a real anvil: exactly-once across SIGKILL, a node outage, metrics and health,
graceful SIGTERM, zero-config, and sinks fed after each commit."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpx

from watchdog.config import load_settings
from watchdog.daemon import Daemon, load_factory
from watchdog.devnet import Anvil
from watchdog.devnet.anvil import free_port
from watchdog.store import Store

from fixtures.chain.chainkit import Chain, artifacts, calldata, findings, values

HANDLER = str(Path(__file__).parent / "fixtures" / "chain" / "handler.py") + ":make_handler"
WATCHDOG = [sys.executable, "-m", "watchdog"]
OUTAGE_SECONDS = 30


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def write_config(tmp_path: Path, node: Anvil, chain: Chain, **network: object) -> Path:
    manifest = chain.manifest(tmp_path)
    (tmp_path / "Lender.abi.json").write_text(json.dumps(artifacts()["Lender"]["abi"]))
    options = {"poll_interval": 0.2, **network}
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    config = tmp_path / "watchdog.toml"
    config.write_text(f"""
[networks.local]
chain_id = 31337
rpc_urls = ["{node.url}"]
ws_url = "{node.ws_url}"
start_block = 0
{extra}
[protocols.fixture]
manifest = "{manifest.name}"

[abis]
files = ["Lender.abi.json"]

[store]
url = "sqlite:///watchdog.db"

[metrics]
port = 0

[schedule]
rules_interval = 0.5
""")
    return config


def stored_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("SELECT dedup_key, rule_id, tx_hash, block_hash, status FROM findingrecord").fetchall())


def checkpoint(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT block_number FROM checkpoint").fetchone()
            return row[0] if row else -1
    except sqlite3.OperationalError:  # tables not created yet
        return -1


def test_sigkill_during_backfill_then_restart_gives_the_same_findings(fresh_anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(fresh_anvil)
    for value in range(1, 121):
        chain.transfer(value, wait=value % 10 == 0)
    chain.flash(7777)
    head = fresh_anvil.block_number()

    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    for directory in (reference_dir, killed_dir):
        directory.mkdir()
    once = ["run", "--once", "--to-block", str(head), "--handler", HANDLER]
    reference_cfg = write_config(reference_dir, fresh_anvil, chain, max_log_range=3, reorg_window=8)
    uninterrupted = Daemon(load_settings(reference_cfg), handler_factory=load_factory(HANDLER))
    uninterrupted.run_once(head)
    uninterrupted.store.close()
    reference = stored_rows(reference_dir / "watchdog.db")
    assert len(reference) == 121

    killed_cfg = write_config(killed_dir, fresh_anvil, chain, max_log_range=3, reorg_window=8)
    db = killed_dir / "watchdog.db"
    kills = 0
    for threshold in (head // 4, head // 2):
        proc = subprocess.Popen([*WATCHDOG, *once, "--config", str(killed_cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: checkpoint(db) >= threshold or proc.poll() is not None, what="backfill progress")
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        assert checkpoint(db) < head  # killed mid-backfill
    assert kills == 2
    subprocess.run([*WATCHDOG, *once, "--config", str(killed_cfg)], check=True, capture_output=True, timeout=120)
    assert checkpoint(db) == head
    assert [row[:4] for row in stored_rows(db)] == [row[:4] for row in reference]


def test_follower_survives_a_node_outage_and_catches_up(fresh_anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(fresh_anvil)
    for value in (1, 2, 3):
        chain.transfer(value)
    settings = load_settings(write_config(tmp_path, fresh_anvil, chain))
    daemon = Daemon(settings, handler_factory=load_factory(HANDLER))
    notified: list[int] = []
    daemon.add_sink(lambda new, retracted: notified.extend(r.evidence["value"] for r in new))
    daemon.start()
    try:
        handler = daemon.networks["local"].handler
        wait_for(lambda: len(notified) == 3 and handler.scheduled > 0, what="the first findings and a scheduled run")
        state = tmp_path / "state.json"
        fresh_anvil.dump_state(state)
        fresh_anvil.stop()

        time.sleep(OUTAGE_SECONDS)  # the node is down: the follower keeps retrying
        follower = daemon.networks["local"].follower
        errors = daemon.metrics.registry.get_sample_value("watchdog_errors_total", {"network": "local", "kind": "rpc"})
        assert errors and errors >= 3
        assert all(t.is_alive() for t in daemon._threads)
        assert daemon.server is not None
        down = httpx.get(f"http://127.0.0.1:{daemon.server.port}/health")
        assert down.status_code == 503 and down.json()["networks"]["local"]["endpoints"][0]["failures"] > 0

        fresh_anvil.state_file = state
        fresh_anvil.start()  # same port, same chain
        for value in (4, 5, 6):
            chain.transfer(value)
        wait_for(lambda: follower.checkpoint == fresh_anvil.block_number() and len(notified) == 6, what="catching up")
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{daemon.server.port}/health").status_code == 200, what="healthy again")
        before = handler.scheduled  # scheduled rules survived the outage and run again
        wait_for(lambda: handler.scheduled > before, what="a scheduled run after the outage")
    finally:
        daemon.shutdown()
    assert sorted(notified) == [1, 2, 3, 4, 5, 6]
    assert values(findings(Store(settings.store_url()), "active")) == [1, 2, 3, 4, 5, 6]


def test_run_serves_metrics_and_health_logs_json_and_stops_on_sigterm(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    chain.transfer(5)
    port = free_port()
    config = write_config(tmp_path, anvil, chain)
    proc = subprocess.Popen([*WATCHDOG, "run", "--config", str(config), "--handler", HANDLER, "--json-logs",
                             "--metrics-port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, what="/health")
        wait_for(lambda: len(stored_rows(tmp_path / "watchdog.db")) == 1, what="the finding")
        health = httpx.get(f"http://127.0.0.1:{port}/health").json()
        assert health["ok"] and health["networks"]["local"]["checkpoint"] == anvil.block_number()
        assert health["networks"]["local"]["endpoints"][0]["url"] == anvil.url
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'watchdog_findings_total{network="local",severity="low"} 1.0' in metrics
        assert "watchdog_rpc_requests_total" in metrics
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    records = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert {"ts", "level", "logger", "msg"} <= set(records[0])
    assert any("SIGTERM" in r["msg"] for r in records) and records[-1]["msg"] == "stopped"


def test_zero_config_run_once_watches_the_manifest(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    chain.transfer(9)
    chain.forward(11)
    manifest = chain.manifest(tmp_path)
    db = tmp_path / "zero.db"
    done = subprocess.run([*WATCHDOG, "run", "--manifest", str(manifest), "--rpc", anvil.url, "--store", f"sqlite:///{db}",
                           "--handler", HANDLER, "--once"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert values(findings(Store(f"sqlite:///{db}"))) == [9, 11]


def test_a_wrong_chain_id_stops_the_daemon_with_one_line(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    config = write_config(tmp_path, anvil, chain)
    config.write_text(config.read_text().replace("chain_id = 31337", "chain_id = 1"))
    (tmp_path / "manifest.json").write_text((tmp_path / "manifest.json").read_text().replace('"chain_id": 31337', '"chain_id": 1'))
    done = subprocess.run([*WATCHDOG, "run", "--config", str(config), "--handler", HANDLER, "--once"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: networks.local.chain_id is 1 but the RPC serves chain 31337: fix chain_id or rpc_urls"]


def test_daemon_acts_on_pending_transactions_then_on_their_block(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    settings = load_settings(write_config(tmp_path, anvil, chain, mempool=True))
    daemon = Daemon(settings, handler_factory=load_factory(HANDLER))
    seen: list[tuple[str, bool]] = []
    daemon.add_sink(lambda new, retracted: seen.extend((r.rule_id, r.pending) for r in new))
    anvil.set_automine(False)
    daemon.start()
    try:
        wait_for(lambda: daemon.networks["local"].follower.checkpoint == anvil.block_number(), what="caught up")
        chain.forward(2000, wait=False)
        wait_for(lambda: ("test.pending", True) in seen, what="the pending finding")
        assert ("test.transfer", False) not in seen  # not mined yet
        anvil.mine(1)
        wait_for(lambda: ("test.transfer", False) in seen, what="the block finding")
    finally:
        anvil.set_automine(True)
        daemon.shutdown()


def test_live_daemon_retracts_reorged_findings_and_notifies_sinks(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    for value in (1, 2, 3):
        chain.transfer(value)
    daemon = Daemon(load_settings(write_config(tmp_path, anvil, chain)), handler_factory=load_factory(HANDLER))
    new_values: list[int] = []
    retracted_values: list[int] = []

    def sink(new, retracted) -> None:  # noqa: ANN001
        new_values.extend(r.evidence["value"] for r in new)
        retracted_values.extend(r.evidence["value"] for r in retracted)

    daemon.add_sink(sink)
    daemon.start()
    try:
        wait_for(lambda: sorted(new_values) == [1, 2, 3], what="the first findings")
        replacement = {"from": chain.sender, "to": chain.token, "data": calldata("transfer(address,uint256)",
                       ["address", "uint256"], [chain.accounts[1], 99])}
        anvil.rpc("anvil_reorg", [2, [[replacement, 1]]])
        wait_for(lambda: 99 in new_values, what="the new branch")
    finally:
        daemon.shutdown()
    assert sorted(retracted_values) == [2, 3]
    assert values(findings(daemon.store, "active")) == [1, 99]
