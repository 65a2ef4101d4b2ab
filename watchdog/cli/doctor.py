"""`watchdog doctor`: versions of the toolchain and key Python packages, with a fix for anything missing."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from watchdog import toolchain
from watchdog.cli.app import app
from watchdog.errors import ToolchainError

PYTHON_PACKAGES = ("web3", "eth-abi", "slither-analyzer", "crytic-compile", "safe-eth-py", "sqlmodel", "httpx", "apscheduler")
FIX_NPM = "run `make setup` (or `npm install`) in the watchdog checkout"
FIX_PIP = "run `make` (or `.venv/bin/pip install -e .[test]`)"


def _first_line(cmd: list[str], pick: str | None = None) -> str:
    """First output line of a version command (optionally the first containing `pick`)."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=toolchain.tool_env())
    out = done.stdout + done.stderr
    lines = [line for line in out.splitlines() if line.strip()]
    if pick:
        lines = [line for line in lines if pick in line]
    return lines[0].strip() if lines else ""


def checks() -> list[tuple[str, str | None, str]]:
    """(component, version or None when missing, fix) for every tool watchdog needs."""
    rows: list[tuple[str, str | None, str]] = []
    for name in toolchain.FOUNDRY_TOOLS:
        try:
            line = _first_line([str(toolchain.tool(name)), "--version"])
            rows.append((name, line.split("Version:")[-1].strip() or None, FIX_NPM))
        except (ToolchainError, OSError, subprocess.SubprocessError):
            rows.append((name, None, FIX_NPM))
    try:
        versions = toolchain.solc_versions()
        shim = _first_line([str(toolchain.solc()), "--version"], pick="Version:").split("Version:")[-1].strip()
        rows.append(("solc (solc-js shim)", shim or None, FIX_NPM))
        rows += [(f"solc-js {v}", v, FIX_NPM) for v in versions]
    except (ToolchainError, OSError, subprocess.SubprocessError):
        rows.append(("solc (solc-js shim)", None, FIX_NPM))
    try:
        version = _first_line([str(toolchain.python_script("slither")), "--version"])
        rows.append(("slither", version if version[:1].isdigit() else None, FIX_PIP))
    except (ToolchainError, OSError, subprocess.SubprocessError):
        rows.append(("slither", None, FIX_PIP))
    for package in PYTHON_PACKAGES:
        try:
            rows.append((package, importlib.metadata.version(package), FIX_PIP))
        except importlib.metadata.PackageNotFoundError:
            rows.append((package, None, FIX_PIP))
    return rows


def node_report(rpc_url: str, ws_url: str | None) -> dict[str, Any]:
    """What the node at `rpc_url` can do, and which built-in rules lose power without what it lacks."""
    from watchdog.chain.capabilities import probe
    from watchdog.chain.parse import quantity
    from watchdog.chain.rpc import RpcClient
    from watchdog.redaction import redact_url
    from watchdog.detect.loader import builtin_rules

    client = RpcClient(rpc_url, retries=1, timeout=10.0)
    try:
        chain_id, head = (quantity(client.call(method), method) for method in ("eth_chainId", "eth_blockNumber"))
        found = probe(client, ws_url)
    finally:
        client.close()
    users: dict[str, list[str]] = {}
    for rule in builtin_rules():
        for capability, what in rule.needs.items():
            users.setdefault(capability, []).append(f"{rule.id} ({what})")
    return {"url": redact_url(rpc_url), "chain_id": chain_id, "head": head, "capabilities": {
        name: {"ok": p.ok, "what": p.capability.what, "fallback": p.capability.fallback, "detail": p.detail,
               "rules": users.get(name, [])} for name, p in found.items()}}


@app.command()
def doctor(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    rpc: str = typer.Option(None, "--rpc", help="Also ask this node what it can do (tracing, receipts, mempool...)."),
    ws: str = typer.Option(None, "--ws", help="With --rpc: the node's WebSocket URL, to check subscriptions."),
) -> None:
    """Check the toolchain (anvil, forge, cast, solc-js, slither, key Python packages) and, with --rpc, a node."""
    rows = checks()
    missing = [(name, fix) for name, version, fix in rows if version is None]
    node = None
    if rpc:
        node = node_report(rpc, ws)
    if json_output:
        typer.echo(json.dumps({"ok": not missing, "components": {n: v for n, v, _ in rows}, "node": node}))
    else:
        table = Table(title="watchdog doctor")
        table.add_column("component")
        table.add_column("version")
        for name, version, _ in rows:
            table.add_row(name, version or "[red]missing[/]")
        Console().print(table)
        if node is not None:
            _print_node(node)
    err = Console(stderr=True)
    for name, fix in missing:
        err.print(f"[red]missing:[/] {name}: {fix}", highlight=False)
    if missing:
        raise typer.Exit(1)


def _print_node(node: dict[str, Any]) -> None:
    table = Table(title=f"node {node['url']} (chain {node['chain_id']}, block {node['head']})")
    for column in ("capability", "state", "without it"):
        table.add_column(column)
    for name, found in node["capabilities"].items():
        state = "ok" if found["ok"] else "[red]missing[/]"
        lost = "" if found["ok"] else "; ".join([found["fallback"], *found["rules"]])
        table.add_row(name, state, lost)
    Console().print(table)
