"""`watchdog stress`: what-if scenarios played on a local fork of the chain's current state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from watchdog.cli.app import app
from watchdog.errors import ConfigError

DEFAULT_CONFIG = Path("watchdog.toml")
FORMATS = ("text", "json", "markdown")

if TYPE_CHECKING:  # imported when the command runs: `watchdog --help` stays fast
    from watchdog.manifest import Manifest


@app.command()
def stress(
    scenarios: list[str] = typer.Argument(None, help="Scenarios: shock:ASSET:MOVE[,MOVE...], stop:FEED[:MOVE], "
                                                     "pause:CONTRACT[:ASSET:MOVE], halt:ENDPOINT[:MOVE] (MOVE like -30%)."),
    rpc: str = typer.Option(None, "--rpc", help="JSON-RPC URL of the chain to fork (default: the config's network)."),
    manifest: Path = typer.Option(None, "--manifest", help="The deployment manifest (default: the config's protocols)."),
    config: Path = typer.Option(None, "--config", "-c", help="TOML config (default: ./watchdog.toml) when no --manifest."),
    network: str = typer.Option(None, "--network", help="Network name from the config (needed when it has several)."),
    file: Path = typer.Option(None, "--scenarios", help="A TOML file of [[scenario]] tables (kind, target, move...)."),
    fmt: str = typer.Option("text", "--format", help="text, json or markdown."),
    out: Path = typer.Option(None, "--out", help="Also write report.json, report.md and chart.svg to this folder."),
    hold: int = typer.Option(None, "--hold", min=0, help="Seconds each scenario lasts (default: 0; a stop: two heartbeats)."),
    from_block: int = typer.Option(None, "--from-block", min=0, help="Read the accounts' logs from this block "
                                                                     "(default: the holders' deployment)."),
    max_slippage: float = typer.Option(5.0, "--max-slippage", min=0.1, max=99.0,
                                       help="Percent: how far a sale may move a pool's price and still count as absorbed."),
    account: list[str] = typer.Option([], "--account", help="Also read this account (repeat)."),
) -> None:
    """Play what-if scenarios on a local fork (anvil) of the chain now: liquidations, bad debt, coverage, value at
    risk per protocol. Nothing is sent to the real chain."""
    from watchdog.stress import StressOptions, StressRun, load, parse
    from watchdog.stress.chart import svg
    from watchdog.stress.report import markdown, text

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt}: use one of {', '.join(FORMATS)}")
    wanted = [s for written in scenarios or [] for s in parse(written)] + (load(file) if file else [])
    if not wanted:
        raise ConfigError("no scenario: give one such as shock:WETH:-30%, or --scenarios FILE")
    bad = [a for a in account if not (a.startswith("0x") and len(a) == 42)]
    if bad:
        raise ConfigError(f"--account {bad[0]}: not an address (0x followed by 40 hex digits)")
    deployment, url = _target(rpc, manifest, config, network)
    options = StressOptions(from_block=from_block, max_slippage=max_slippage / 100, hold=hold, accounts=account)
    report = StressRun(deployment, url, options).run(wanted)
    chart = svg(report)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        if chart:
            (out / "chart.svg").write_text(chart)
        (out / "report.md").write_text(markdown(report, "chart.svg" if chart else None))
    if fmt == "json":
        typer.echo(json.dumps(report, indent=1))
    elif fmt == "markdown":
        typer.echo(markdown(report, "chart.svg" if chart and out is not None else None))
    else:
        text(report, Console(width=200))
        if out is not None:
            typer.echo(f"wrote {out / 'report.md'}, {out / 'report.json'}" + (f", {out / 'chart.svg'}" if chart else ""))


def _target(rpc: str | None, manifest: Path | None, config: Path | None, network: str | None) -> tuple[Manifest, str]:
    """The manifest to stress and the node to fork: --manifest with --rpc, else the config's network."""
    from watchdog.config import deployments, load_settings
    from watchdog.manifest import load_manifest

    if manifest is not None:
        if config is not None:
            raise ConfigError("give either --manifest (with --rpc) or --config, not both")
        if not rpc:
            raise ConfigError("--manifest needs --rpc URL: the node of the chain it is deployed on")
        return load_manifest(manifest), rpc
    path = config or DEFAULT_CONFIG
    if not path.exists():
        raise ConfigError(f"no {path} here: pass --manifest FILE --rpc URL, or --config FILE")
    settings = load_settings(path)
    if network is None and len(settings.networks) > 1:
        raise ConfigError(f"the config has several networks: pick one with --network ({', '.join(settings.networks)})")
    name = network or next(iter(settings.networks))
    if name not in settings.networks:
        raise ConfigError(f"--network {name}: not in the config; use one of {', '.join(settings.networks)}")
    return deployments(settings)[name].manifest, rpc or settings.networks[name].rpc_urls[0]
