"""`watchdog manifest`: write a deployment manifest from a forge broadcast, a hardhat-deploy folder or by probing
deployed addresses, and check a manifest against the chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from watchdog.cli.app import app
from watchdog.errors import ConfigError

if TYPE_CHECKING:  # imported when a command runs: `watchdog --help` stays fast
    from watchdog.chain.rpc import RpcClient
    from watchdog.manifests import Draft

manifest_app = typer.Typer(help="Write deployment manifests (from forge, hardhat-deploy or the chain itself) and check them.",
                           no_args_is_help=True)
app.add_typer(manifest_app, name="manifest")

OUT_HELP = "Folder to write manifest.json and its abi/ files into."
FORCE_HELP = "Overwrite an existing manifest."


@manifest_app.command("from-foundry")
def from_foundry(
    broadcast: Path = typer.Argument(..., help="The run's broadcast file: broadcast/<Script>.s.sol/<chain id>/run-latest.json."),
    out: Path = typer.Option(Path("."), "--out", help=OUT_HELP),
    artifacts: Path | None = typer.Option(None, "--artifacts", help="forge's build folder (default: `out` of the project's foundry.toml)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """A manifest from a `forge script --broadcast` run: every contract it deployed, ABIs from the forge build."""
    from watchdog.manifests import from_foundry as read, write_manifest

    deployment = read(broadcast, artifacts)
    path = out / "manifest.json"
    write_manifest(deployment.drafts, deployment.chain_id, deployment.block, path, force=force)
    _print_drafts(deployment.drafts)
    _wrote(path, len(deployment.drafts), deployment.chain_id, deployment.block)


@manifest_app.command("from-hardhat")
def from_hardhat(
    folder: Path = typer.Argument(..., help="A hardhat-deploy network folder: deployments/<network>."),
    out: Path = typer.Option(Path("."), "--out", help=OUT_HELP),
    chain_id: int | None = typer.Option(None, "--chain-id", help="The chain id, when the folder has no .chainId file."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """A manifest from hardhat-deploy's deployments folder: addresses, ABIs and blocks of every deployment."""
    from watchdog.manifests import from_hardhat as read, write_manifest

    deployment = read(folder, chain_id)
    path = out / "manifest.json"
    write_manifest(deployment.drafts, deployment.chain_id, deployment.block, path, force=force)
    _print_drafts(deployment.drafts)
    _wrote(path, len(deployment.drafts), deployment.chain_id, deployment.block)


@manifest_app.command("probe")
def probe(
    addresses: list[str] = typer.Argument(..., help="Deployed addresses to look at."),
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the chain they are deployed on."),
    as_json: bool = typer.Option(False, "--json", help="Print the suggestions as JSON."),
    out: Path | None = typer.Option(None, "--out", help="Write a manifest of the suggestions to this file (ABIs in abi/ beside it)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Suggest a manifest entry per address, without ABIs: role, reasons, and a pause where one shows."""
    from watchdog.manifests import probe_addresses, write_manifest

    report = probe_addresses(_client(rpc), addresses)
    if as_json:
        typer.echo(json.dumps({"chain_id": report.chain_id, "block": report.block, "no_code": report.no_code,
                               "contracts": [{"name": d.name, "address": d.address, "role": d.role, "reasons": d.reasons,
                                              "pause": d.pause, **d.extra} for d in report.drafts]}, indent=1))
    else:
        _print_drafts(report.drafts)
        for address in report.no_code:
            typer.echo(f"{address}: no code on chain {report.chain_id}: an account, or nothing deployed there on this chain")
    if out is not None:
        extra = {"safe": report.safe} if report.safe else {}
        write_manifest(report.drafts, report.chain_id, report.block, out, force=force, **extra)
        _wrote(out, len(report.drafts), report.chain_id, report.block, err=as_json)


@manifest_app.command("check")
def check(
    manifest: Path = typer.Argument(..., help="The manifest to check."),
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the chain it describes."),
    signer_address: str | None = typer.Option(None, "--signer-address", help="Simulate every pause from this account."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Or take the signer from this config (the executor's signer)."),
) -> None:
    """Check a manifest against the chain: code and ABIs, chain id, pause paths, and whether the signer may pause.
    Exit 2 with one line per problem."""
    from watchdog.manifest import load_manifest
    from watchdog.manifests import check_manifest

    loaded = load_manifest(manifest)
    signer = signer_address or (_config_signer(config) if config else None)
    report = check_manifest(loaded, _client(rpc), signer)
    for problem in report.problems:
        typer.echo(problem.line(str(manifest)))
    for note in report.notes:
        typer.echo(f"{manifest}: note: {note}")
    if report.problems:
        raise typer.Exit(2)
    simulated = f", simulated from {signer}" if signer else " (no signer: pass --signer-address to simulate the pauses)"
    typer.echo(f"{manifest}: ok: {report.contracts} contract(s) and {report.pauses} pause path(s) on chain "
               f"{report.chain_id} at block {report.block}{simulated}")


def _client(url: str) -> RpcClient:
    from watchdog.chain.rpc import RpcClient

    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--rpc {url!r} is not an http(s):// URL")
    return RpcClient(url, retries=1)


def _config_signer(path: Path) -> str:
    """The address of the signer the config's executor uses (a keystore names it; a key is read to learn it)."""
    from watchdog.config import load_settings
    from watchdog.keys import load_signer

    response = load_settings(path).response()
    name = response.executor.signer
    signer = response.signers.get(name)
    if signer is None:
        raise ConfigError(f"{path}: signers.{name}: missing (the executor's signer): add it, or pass --signer-address")
    if signer.keystore is not None:
        try:
            address = json.loads(Path(signer.keystore).read_text()).get("address")
        except (OSError, json.JSONDecodeError, AttributeError):
            address = None
        if isinstance(address, str) and len(address.removeprefix("0x")) == 40:
            return "0x" + address.removeprefix("0x").lower()
    return load_signer(signer.source()).address


def _print_drafts(drafts: list[Draft]) -> None:
    width = max((len(d.name) for d in drafts), default=0)
    for draft in drafts:
        typer.echo(f"{draft.name:<{width}}  {draft.role:<14}  {draft.address}")
        for reason in draft.reasons:
            typer.echo(f"{'':<{width}}    {reason}")


def _wrote(path: Path, count: int, chain_id: int, block: int, err: bool = False) -> None:
    typer.echo(f"wrote {path}: {count} contract(s), chain {chain_id}, block {block}; "
               f"review the roles, then `watchdog manifest check --rpc URL {path}`", err=err)
