"""`watchdog devnet up|down|status`: a local anvil with the demo world, left running in the background."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console

from watchdog.cli.app import app
from watchdog.devnet import Anvil
from watchdog.errors import WatchdogError

devnet_app = typer.Typer(help="Run a local devnet (anvil) with the demo world deployed.", no_args_is_help=True)
app.add_typer(devnet_app, name="devnet")

STATE_DIR_OPTION = typer.Option(Path(".watchdog"), "--state-dir", help="Where the devnet's pid, log and manifest live.")


def _state_file(state_dir: Path) -> Path:
    return state_dir / "devnet.json"


def _read_state(state_dir: Path) -> dict | None:
    path = _state_file(state_dir)
    return json.loads(path.read_text()) if path.exists() else None


def _alive(state: dict) -> bool:
    try:
        httpx.post(state["rpc"], json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=2)
        return True
    except httpx.HTTPError:
        return False


@devnet_app.command("up")
def up(
    port: int = typer.Option(8545, help="Loopback port for anvil's HTTP and WebSocket JSON-RPC."),
    block_time: float = typer.Option(0, help="Seconds between blocks (0: mine on every transaction)."),
    state_dir: Path = STATE_DIR_OPTION,
    world: bool = typer.Option(True, "--world/--no-world", help="Deploy the demo world and write its manifest."),
) -> None:
    """Start anvil in the background, deploy the demo world, and print the RPC URL and manifest path."""
    state = _read_state(state_dir)
    if state and _alive(state):
        raise WatchdogError(f"a devnet is already running at {state['rpc']}: run `watchdog devnet down` first")
    state_dir.mkdir(parents=True, exist_ok=True)
    anvil = Anvil(port, block_time=block_time or None, log_path=state_dir / "anvil.log", detached=True)
    anvil.start()
    assert anvil.process is not None
    state = {"pid": anvil.process.pid, "rpc": anvil.url, "ws": anvil.ws_url, "chain_id": anvil.chain_id}
    _state_file(state_dir).write_text(json.dumps(state, indent=2))
    Console().print(f"devnet up: rpc {anvil.url} (pid {anvil.process.pid})")
    if world:
        from watchdog.devnet.cache import world_on_anvil  # web3 and the forge build only when deploying

        try:
            deployed = world_on_anvil(anvil, state_dir / "world")
        except Exception:
            anvil.stop()
            _state_file(state_dir).unlink(missing_ok=True)
            raise
        state["manifest"] = str(deployed.manifest_path)
        _state_file(state_dir).write_text(json.dumps(state, indent=2))
        Console().print(f"manifest: {deployed.manifest_path}")


@devnet_app.command("down")
def down(state_dir: Path = STATE_DIR_OPTION) -> None:
    """Stop the background devnet."""
    state = _read_state(state_dir)
    if not state:
        Console().print("no devnet is running")
        return
    try:
        os.killpg(state["pid"], signal.SIGTERM)
        for _ in range(50):
            os.killpg(state["pid"], 0)
            time.sleep(0.1)
        os.killpg(state["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass
    _state_file(state_dir).unlink(missing_ok=True)
    Console().print("devnet down")


@devnet_app.command("status")
def status(state_dir: Path = STATE_DIR_OPTION) -> None:
    """Show whether the devnet is running, its RPC URL, block and manifest."""
    state = _read_state(state_dir)
    if not state or not _alive(state):
        Console().print("devnet: not running")
        raise typer.Exit(1)
    block = int(httpx.post(state["rpc"], json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).json()["result"], 16)
    Console().print(f"devnet: running at {state['rpc']} (pid {state['pid']}), block {block}"
                    + (f", manifest {state['manifest']}" if state.get("manifest") else ""))
