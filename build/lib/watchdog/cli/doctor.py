"""`watchdog doctor`: versions of the toolchain and key Python packages, with a fix for anything missing."""

from __future__ import annotations

import importlib.metadata
import subprocess

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


@app.command()
def doctor(json_output: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table.")) -> None:
    """Check the toolchain: anvil, forge, cast, solc-js, slither and key Python packages."""
    rows = checks()
    missing = [(name, fix) for name, version, fix in rows if version is None]
    if json_output:
        import json

        typer.echo(json.dumps({"ok": not missing, "components": {n: v for n, v, _ in rows}}))
    else:
        table = Table(title="watchdog doctor")
        table.add_column("component")
        table.add_column("version")
        for name, version, _ in rows:
            table.add_row(name, version or "[red]missing[/]")
        Console().print(table)
    err = Console(stderr=True)
    for name, fix in missing:
        err.print(f"[red]missing:[/] {name}: {fix}", highlight=False)
    if missing:
        raise typer.Exit(1)
