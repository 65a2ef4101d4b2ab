"""`watchdog forensics TX`: what one transaction did: call tree, who gained and lost, prices moved, attacker cluster."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from watchdog.cli.app import app
from watchdog.forensics import investigate, markdown_lines
from watchdog.manifest import Manifest, load_manifest
from watchdog.store import Store, ledger


def manifest_or_none(path: Path | None) -> Manifest | None:
    return load_manifest(path) if path is not None else None


@app.command()
def forensics(
    tx: str = typer.Argument(..., help="The transaction hash."),
    rpc: str = typer.Option("http://127.0.0.1:8545", "--rpc", envvar="WATCHDOG_RPC",
                            help="JSON-RPC URL of a node that traces (debug_traceTransaction)."),
    manifest: Path = typer.Option(None, "--manifest", help="Names contracts and prices tokens in its quote asset."),
    store: str = typer.Option(None, "--store", envvar="WATCHDOG_STORE", help="Take the rules' findings about the tx from this store."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of Markdown."),
) -> None:
    """Decoded call tree, net token and coin flows per address, price sources moved, contracts created, attacker
    cluster (deployer, funder, contracts) and a root-cause line."""
    findings = []
    if store:
        with Store(store).session() as s:
            findings = ledger.findings_of_tx(s, tx.lower())
    report = investigate(tx, rpc, manifest_or_none(manifest), findings)
    typer.echo(json.dumps(report, indent=2) if as_json else "\n".join(markdown_lines(report)))
