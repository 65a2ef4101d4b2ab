"""`watchdog incidents list|show|report|resolve`: incidents, their timeline and the post-mortem."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from watchdog.cli.app import app
from watchdog.cli.output import write_output
from watchdog.config import load_settings
from watchdog.forensics import of_findings
from watchdog.manifest import load_manifest
from watchdog.respond.incidents import resolve
from watchdog.respond.notify import Notice, Notifications
from watchdog.respond.report import iso, markdown, postmortem
from watchdog.store import Store, incidents

incidents_app = typer.Typer(help="Incidents: findings grouped per protocol, time window and attacker.", no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")

STORE_OPTION = typer.Option(None, "--store", envvar="WATCHDOG_STORE",
                            help="Store URL (env WATCHDOG_STORE; default: the config's [store], else sqlite:///watchdog.db).")
CONFIG_OPTION = typer.Option(None, "--config", "-c", help="TOML config to take the store (and RPC) from.")


def open_store(store: str | None, config: Path | None, *, read_only: bool = False) -> Store:
    """The store named on the command line, else the config's, else ./watchdog.db. It must exist: these commands
    read what `watchdog run` stored, so a mistyped path is an error, never a new empty store."""
    url = store or (load_settings(config).store_url() if config is not None else "sqlite:///watchdog.db")
    return Store(url, create=False, read_only=read_only)


@incidents_app.command("list")
def list_incidents(
    store: str = STORE_OPTION,
    config: Path = CONFIG_OPTION,
    status: str = typer.Option(None, help="Only this status: open, contained or resolved."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """List incidents, newest first."""
    db = open_store(store, config, read_only=True)
    with db.session() as s:
        rows = incidents.incidents(s, status)
    if as_json:
        typer.echo(json.dumps([{"id": i.id, "status": i.status, "severity": i.severity, "network": i.network,
                                "protocol": i.protocol, "title": i.title, "first_seen": iso(i.first_seen),
                                "last_seen": iso(i.last_seen)} for i in rows], indent=2))
        return
    table = Table("id", "status", "severity", "network", "protocol", "title", "first seen (UTC)")
    for i in rows:
        table.add_row(str(i.id), i.status, i.severity, i.network, i.protocol or "-", i.title, iso(i.first_seen) or "")
    Console(width=160).print(table)


@incidents_app.command("show")
def show(incident_id: int, store: str = STORE_OPTION, config: Path = CONFIG_OPTION) -> None:
    """An incident with its findings, actions and UTC timeline."""
    report = postmortem(open_store(store, config, read_only=True), incident_id)
    out = Console(width=160, highlight=False, soft_wrap=True)
    out.print(f"incident #{report['incident']}: {report['title']}")
    out.print(f"status {report['status']}, severity {report['severity_label']} ({report['severity']}), "
              f"{report['network']} / {report['protocol'] or '-'}")
    out.print("findings:")
    for f in report["findings"]:
        out.print(f"  {f['severity']:8} {f['rule_id']} tx {f['tx_hash']} block {f['block']} {f['status']}")
    out.print("actions:")
    for a in report["actions"]:
        out.print(f"  {a['kind']} {a['contract'] or a['target']}: {a['status']} {a['tx_hash'] or ''} {a['error'] or ''}")
    for p in report["proposals"]:
        out.print(f"  Safe proposal #{p['id']} nonce {p['nonce']} {p['safe_tx_hash']}: {p['status']}")
    out.print("timeline (UTC):")
    for e in report["events"]:
        out.print(f"  {e['at']} {e['kind']:10} {e['message']}")


@incidents_app.command("report")
def report(
    incident_id: int,
    store: str = STORE_OPTION,
    config: Path = CONFIG_OPTION,
    fmt: str = typer.Option("markdown", "--format", help="markdown or json."),
    out: Path = typer.Option(None, "--out", help="Write to this file instead of stdout."),
    rpc: str = typer.Option(None, "--rpc", envvar="WATCHDOG_RPC", help="A tracing node: adds each attack transaction's forensics."),
    manifest: Path = typer.Option(None, "--manifest", help="Names contracts and prices flows in the forensics."),
) -> None:
    """The post-mortem: summary, impact, UTC timeline, attack stages, root cause, lessons, action items, time to
    detection; with --rpc, the forensics of the attack transactions."""
    if fmt not in ("markdown", "json"):
        raise typer.BadParameter("use markdown or json", param_hint="--format")
    data = postmortem(open_store(store, config, read_only=True), incident_id,
                      of_findings(rpc, load_manifest(manifest) if manifest else None) if rpc else None)
    text = markdown(data) if fmt == "markdown" else json.dumps(data, indent=2) + "\n"
    if out:
        write_output(out, text, "--out")
        typer.echo(f"wrote {out}")
    else:
        typer.echo(text, nl=False)


@incidents_app.command("resolve")
def resolve_cmd(
    incident_id: int,
    store: str = STORE_OPTION,
    config: Path = CONFIG_OPTION,
    note: str = typer.Option("", help="What was done (goes to the timeline)."),
    root_cause: str = typer.Option("", help="Root cause, for the post-mortem."),
) -> None:
    """Mark an incident resolved (after governance handled it)."""
    db = open_store(store, config)
    incident = resolve(db, incident_id, note, root_cause)
    typer.echo(f"incident #{incident.id} resolved")
    if config is not None:  # close the incident's threads (PagerDuty resolve, a last reply elsewhere)
        notifications = Notifications(db, load_settings(config).response().notifiers)
        with db.session() as s:
            names = incidents.thread_names(s, incident_id)
        if names:
            notifications.deliver(Notice(incident_id=incident_id, network=incident.network, protocol=incident.protocol,
                                         severity=incident.severity, status="resolved", kind="resolved", title=incident.title,
                                         text=note or "resolved", at=iso(incident.resolved_at) or ""), names)
        notifications.close()
