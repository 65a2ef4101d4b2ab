"""`watchdog scan`: slither plus watchdog's DeFi/oracle detectors on sources, or on a deployed address."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from watchdog.cli.app import app
from watchdog.cli.output import write_output
from watchdog.finding import Severity
from watchdog.errors import ConfigError
from watchdog.scan import report as reports
from watchdog.scan.scanner import ScanOptions, ScanReport, scan_path

FAIL_ON_CHOICES = ("none", *(s.value for s in Severity))
SUFFIXES = {"text": "txt", "json": "json", "sarif": "sarif", "markdown": "md"}


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _positive(value: float, option: str, what: str) -> None:
    if not value > 0:
        raise ConfigError(f"{option} {value:g}: the {what} must be above 0: raise it")


def _list_detectors() -> None:
    from watchdog.scan.catalog import listing

    sys.stdout.write(listing())


@app.command()
def scan(
    path: Path | None = typer.Argument(None, help="A .sol file, a folder, or a Foundry/Hardhat project."),
    fmt: str = typer.Option("text", "--format", "-f", help="Output format: text, json, sarif or markdown."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    fail_on: str = typer.Option("none", "--fail-on", help="Exit 1 when a finding of this severity or above remains (CI): none, info, low, medium, high, critical."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Hide findings already in this earlier JSON/SARIF report (or list of fingerprints)."),
    include: list[str] = typer.Option([], "--include", help="Only these detectors (comma-separated, glob patterns such as 'wd-*'; repeatable)."),
    exclude: list[str] = typer.Option([], "--exclude", help="Skip these detectors (comma-separated, glob patterns; repeatable)."),
    l2: bool = typer.Option(False, "--l2", help="The contracts run on a rollup: require sequencer-uptime checks everywhere."),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds a scan may take before it is stopped."),
    max_memory: int = typer.Option(4096, "--max-memory", help="MiB of memory a scan may use before it is stopped."),
    max_source_mb: int = typer.Option(8, "--max-source-mb", help="MiB of Solidity (with imports) a scan accepts."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Analyse again even if these exact sources were scanned before."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Where results are cached by source hash (default: the user cache folder)."),
    list_detectors: bool = typer.Option(False, "--list-detectors", help="List the detectors (slither's and watchdog's) and exit."),
    address: str | None = typer.Option(None, "--address", help="Scan the contract deployed at this address instead of sources."),
    rpc: str | None = typer.Option(None, "--rpc", help="JSON-RPC URL to fetch the bytecode from (with --address)."),
    artifacts: list[Path] = typer.Option([], "--artifacts", help="Forge output folders to match the bytecode against (repeatable)."),
    sourcify: Path | None = typer.Option(None, "--sourcify", help="A Sourcify-format folder of verified sources."),
    explorer_api: str | None = typer.Option(None, "--explorer-api", help="An Etherscan-compatible API URL to fetch verified sources from."),
    explorer_key: str | None = typer.Option(None, "--explorer-key", envvar="WATCHDOG_EXPLORER_KEY", help="API key for --explorer-api (or env WATCHDOG_EXPLORER_KEY)."),
    watch: list[str] = typer.Option([], "--watch", help="Watched addresses: flag bytecode that embeds them (comma-separated; repeatable)."),
) -> None:
    """Static analysis for auditors: slither + watchdog's DeFi/oracle detectors, or bytecode checks of a deployment."""
    if list_detectors:
        _list_detectors()
        return
    if fmt not in reports.FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of {', '.join(reports.FORMATS)}")
    if fail_on not in FAIL_ON_CHOICES:
        raise ConfigError(f"--fail-on {fail_on!r} is not one of {', '.join(FAIL_ON_CHOICES)}")
    _positive(timeout, "--timeout", "seconds a scan may take")
    _positive(max_memory, "--max-memory", "MiB of memory a scan may use")
    _positive(max_source_mb, "--max-source-mb", "MiB of Solidity a scan accepts")
    if output is not None and output.is_dir():
        raise ConfigError(f"--output {output} is a directory: give a file path, e.g. {output / ('report.' + SUFFIXES[fmt])}")
    known = reports.load_baseline(baseline) if baseline else None  # a broken baseline fails before the scan
    options = ScanOptions(
        include=_split(include),
        exclude=_split(exclude),
        timeout=timeout,
        max_memory_mb=max_memory,
        max_source_mb=max_source_mb,
        l2=l2,
        cache_dir=cache_dir,
        use_cache=not no_cache,
    )
    if address:
        from watchdog.scan.address import SourceLocations, scan_address

        if not rpc:
            raise ConfigError("--address needs --rpc URL to fetch the deployed bytecode")
        locations = SourceLocations(artifacts=artifacts, sourcify=sourcify, explorer_api=explorer_api, explorer_key=explorer_key)
        result: ScanReport = scan_address(address, rpc, locations, options, watched=set(_split(watch)))
    elif path is not None:
        result = scan_path(path, options)
    else:
        raise ConfigError("give a PATH to scan, or --address 0x... --rpc URL")
    if known is not None:
        result = reports.apply_baseline(result, known)
    rendered = reports.render(result, fmt)
    if output:
        write_output(output, rendered, "--output")
        Console(stderr=True).print(reports.to_text(result).splitlines()[-1], highlight=False, soft_wrap=True)
    else:
        sys.stdout.write(rendered)
    if fail_on != "none" and any(f.severity >= Severity(fail_on) for f in result.findings):
        raise typer.Exit(1)
