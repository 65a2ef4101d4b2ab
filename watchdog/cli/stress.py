"""`watchdog stress`: what-if scenarios played on a local fork of the chain's current state; and an incident's own:
`watchdog incidents stress ID` (its stress view) and `watchdog incidents comms ID` (its communications)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from watchdog.cli.app import app
from watchdog.cli.incidents import CONFIG_OPTION, STORE_OPTION, incidents_app, open_store
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


# -- an incident's stress view and communications --------------------------------------------------------------

@incidents_app.command("stress")
def incident_stress(
    incident_id: int,
    store: str = STORE_OPTION,
    config: Path = CONFIG_OPTION,
    rpc: str = typer.Option(None, "--rpc", help="The incident network's node (default: the config's)."),
    manifest: Path = typer.Option(None, "--manifest", help="Its deployment manifest (default: the config's protocols)."),
    as_json: bool = typer.Option(False, "--json", help="Print the view as JSON."),
) -> None:
    """Play the incident's stress view on a fork now (its manipulated price back to the reference, the affected
    contracts paused) and keep it on the incident's timeline and in its proposals' evidence."""
    from watchdog.store import incidents
    from watchdog.stress.incident import incident_view, record

    db = open_store(store, config)
    with db.session() as s:
        incident = incidents.incident(s, incident_id)
    deployment, url = _target(rpc, manifest, None if manifest else config, None if manifest else incident.network)
    view = incident_view(db, incident_id, url, deployment)
    record(db, incident_id, view)
    typer.echo(json.dumps(view, indent=1) if as_json else "\n".join(view["markdown"]))


@incidents_app.command("comms")
def incident_comms(
    incident_id: int,
    store: str = STORE_OPTION,
    config: Path = CONFIG_OPTION,
    kind: str = typer.Option(None, "--kind", help="Only this one: status, exchanges or security."),
    fmt: str = typer.Option("markdown", "--format", help="markdown or json."),
    out: Path = typer.Option(None, "--out", help="Write each as <kind>-v<version>.md and .json to this folder."),
    rpc: str = typer.Option(None, "--rpc", help="A tracing node: adds the traces and where the funds went."),
    manifest: Path = typer.Option(None, "--manifest", help="Names contracts and prices flows in the traces."),
    approve: str = typer.Option(None, "--approve", help="Approve this communication (with --version and --by)."),
    version: int = typer.Option(None, "--version", help="The version approved."),
    by: str = typer.Option(None, "--by", help="Who reviewed and approved it."),
    send: str = typer.Option(None, "--send", help="Send this approved communication through the internal notifiers."),
    notifier: list[str] = typer.Option([], "--notifier", help="Only through this notifier (repeat)."),
) -> None:
    """The incident's communications: drafted again from what is known now (a new version when they changed) and
    printed; --approve records a review; --send delivers an approved one through the notifiers the config's
    communications section lists. Nothing is published on its own."""
    from watchdog.config import load_settings
    from watchdog.manifest import load_manifest
    from watchdog.respond import comms
    from watchdog.respond.notify import Notifications
    from watchdog.stress.incident import traced

    if fmt not in ("markdown", "json"):
        raise ConfigError(f"--format {fmt}: use markdown or json")
    if kind is not None and kind not in comms.KINDS:
        raise ConfigError(f"--kind {kind}: use one of {', '.join(comms.KINDS)}")
    db = open_store(store, config)
    settings = load_settings(config) if config is not None else None
    contacts = settings.communications if settings else comms.Contacts()
    if approve:
        if version is None or not by:
            raise ConfigError("--approve needs --version N and --by NAME (who reviewed it)")
        comms.approve(db, incident_id, approve, version, by)
        typer.echo(f"{comms.KINDS[approve]} v{version} of incident #{incident_id} approved by {by}")
        return
    if send:
        if settings is None:
            raise ConfigError("--send needs --config: the notifiers come from it")
        notifications = Notifications(db, settings.response().notifiers)
        try:
            sent = comms.send(db, incident_id, send, contacts, notifications, notifier or None)
        finally:
            notifications.close()
        typer.echo(f"{comms.KINDS[send]} of incident #{incident_id} sent to {', '.join(sent)}")
        return
    forensics = traced(db, incident_id, rpc, load_manifest(manifest) if manifest else None) if rpc else None
    current = comms.draft(db, incident_id, contacts, forensics)
    shown = {k: v for k, v in current.items() if kind is None or k == kind}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, v in shown.items():
            (out / f"{name}-v{v['version']}.md").write_text(v["markdown"])
            (out / f"{name}-v{v['version']}.json").write_text(json.dumps(v["json"], indent=1) + "\n")
    if fmt == "json":
        typer.echo(json.dumps(shown, indent=1, default=str))
        return
    for name, v in shown.items():
        typer.echo(f"<!-- {comms.KINDS[name]} v{v['version']}: {v['state']}"
                   + (f", approved by {v['reviewed_by']}" if v["reviewed_by"] else ", to be reviewed before it is sent")
                   + " -->")
        typer.echo(v["markdown"])
