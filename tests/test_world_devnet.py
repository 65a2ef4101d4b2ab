"""`watchdog devnet up` deploys the demo world and records its manifest; `down` stops the node."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from watchdog.devnet import free_port
from watchdog.manifest import load_manifest


def _watchdog(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from watchdog.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_devnet_up_deploys_world_and_down_stops_it(tmp_path: Path):
    state_dir = tmp_path / "state"
    up = _watchdog("devnet", "up", "--port", str(free_port()), "--state-dir", str(state_dir))
    try:
        assert up.returncode == 0, up.stderr
        state = json.loads((state_dir / "devnet.json").read_text())
        manifest_path = Path(state["manifest"])
        assert str(manifest_path) in up.stdout.replace("\n", "")
        manifest = load_manifest(manifest_path)
        market = manifest.by_role("market")[0]
        code = httpx.post(state["rpc"], json={"jsonrpc": "2.0", "id": 1, "method": "eth_getCode",
                                              "params": [market.address, "latest"]}).json()["result"]
        assert len(code) > 1000
    finally:
        down = _watchdog("devnet", "down", "--state-dir", str(state_dir))
    assert down.returncode == 0
    try:
        httpx.post(state["rpc"], json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=2)
        alive = True
    except httpx.HTTPError:
        alive = False
    assert not alive
    assert not (state_dir / "devnet.json").exists()


def test_deploy_script_names_an_unreachable_node(tmp_path: Path):
    script = Path(__file__).resolve().parents[1] / "anvil" / "deploy.py"
    url = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run([sys.executable, str(script), "--rpc", url, "--out", str(tmp_path / "m.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and url in proc.stderr
    assert not (tmp_path / "m.json").exists()


def test_deploy_script_refuses_a_node_without_funded_dev_accounts(tmp_path: Path):
    from watchdog.devnet import Anvil

    script = Path(__file__).resolve().parents[1] / "anvil" / "deploy.py"
    with Anvil(extra_args=("--balance", "0")) as node:
        proc = subprocess.run([sys.executable, str(script), "--rpc", node.url, "--out", str(tmp_path / "m.json")],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "dev accounts" in proc.stderr
