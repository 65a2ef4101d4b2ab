"""`watchdog bench`: the benchmark scripts of benchmarks/ (a checkout of watchdog), each printing JSON figures
against a baseline measured in the same run."""

from __future__ import annotations

import json
from types import ModuleType

import typer
from rich.console import Console

from watchdog import toolchain
from watchdog.cli.app import app
from watchdog.errors import ToolchainError
from watchdog.modules import load_file

bench_app = typer.Typer(help="Benchmarks that print JSON figures against a baseline measured in the same run.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def harness(name: str) -> ModuleType:
    """benchmarks/<name>.py of the checkout (benchmarks are not part of the installed package)."""
    path = toolchain.PROJECT_ROOT / "benchmarks" / f"{name}.py"
    if not path.is_file():
        raise ToolchainError(f"benchmark {name} not found at {path}: `watchdog bench` runs from a checkout of watchdog")
    return load_file(path, "watchdog_benchmarks", "benchmark")


def _print(result: dict, json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(result))
    else:
        Console().print_json(json.dumps(result))


@bench_app.command("ingest")
def bench_ingest(
    logs: int = typer.Option(50_000, help="How many logs the watched contracts emit before measuring."),
    latency_blocks: int = typer.Option(20, help="1-second blocks used to measure live latency."),
    backfill_blocks: int = typer.Option(300, help="Blocks of unwatched traffic caught up on (the cost of a complete backfill)."),
    json_output: bool = typer.Option(False, "--json", help="Print only the JSON object."),
) -> None:
    """Ingestion speed: raw eth_getLogs vs web3.py vs watchdog's full path, and live latency."""
    result = harness("ingest").run_ingest(logs=logs, latency_blocks=latency_blocks, backfill_blocks=backfill_blocks)
    _print(result, json_output)


@bench_app.command("load")
def bench_load(
    levels: str = typer.Option("20:0.5,100:0.5,300:0.1,300:0.5",
                               help="Levels as N:watched-share, comma-separated (N transactions per block)."),
    blocks: int = typer.Option(60, help="1-second blocks per level."),
    accounts: int = typer.Option(400, help="Sending accounts (each transaction of a block comes from another one)."),
    json_output: bool = typer.Option(False, "--json", help="Print only the JSON object."),
) -> None:
    """Mainnet-shaped load: `watchdog run` on busy 1-second blocks against the raw minimum, per level."""
    result = harness("load").run_load(levels=levels, blocks=blocks, accounts=accounts)
    _print(result, json_output)
