"""`watchdog recover INCIDENT`: the recovery plan: live checks, the attack replayed on a fork with the pause
lifted, and the Safe's unpause drafted only when every check holds and the replay fails."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from watchdog.cli.app import app
from watchdog.cli.incidents import CONFIG_OPTION, STORE_OPTION, open_store
from watchdog.config import load_settings
from watchdog.errors import ConfigError
from watchdog.manifest import Manifest, load_manifest
from watchdog.recovery import RecoveryOptions, markdown_lines, recover


def protocol_manifest(manifest: Path | None, config: Path | None) -> Manifest:
    if manifest is not None:
        return load_manifest(manifest)
    if config is not None:
        protocols = [p for p in load_settings(config).protocols.values() if getattr(p, "manifest", None)]
        if len(protocols) == 1:
            return load_manifest(config.parent / protocols[0].manifest)
    raise ConfigError("say which protocol: --manifest FILE (or a --config with exactly one protocol manifest)")


@app.command("recover")
def recover_cmd(
    incident_id: int = typer.Argument(..., help="The incident (see `watchdog incidents list`)."),
    rpc: str = typer.Option("http://127.0.0.1:8545", "--rpc", envvar="WATCHDOG_RPC", help="JSON-RPC URL of the protocol's network."),
    store: str = STORE_OPTION,
    config: Path = CONFIG_OPTION,
    manifest: Path = typer.Option(None, "--manifest", help="The protocol's manifest (pause paths, Safe, holders)."),
    band: float = typer.Option(0.02, help="How far the consumed price may be from its reference (0.02 = 2%)."),
    blocks: int = typer.Option(5, help="For this many blocks in a row."),
    as_json: bool = typer.Option(False, "--json", help="The plan as JSON."),
) -> None:
    """Checks before unpausing, the attack replayed on a fork, and the unpause drafted when it is safe."""
    plan = recover(open_store(store, config), incident_id, rpc, protocol_manifest(manifest, config),
                   RecoveryOptions(band=band, blocks=blocks))
    typer.echo(json.dumps(plan, indent=2, default=str) if as_json else "\n".join(markdown_lines(plan)))
