"""`watchdog run` (the daemon) and `watchdog init` (example config)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from watchdog.cli.app import app
from watchdog.cli.output import write_output
from watchdog.config import DEFAULT_CONFIG, EXAMPLE, command_settings
from watchdog.errors import ConfigError
from watchdog.store import Store


def serve_page(daemon: Any, host: str, port: int, token_env: str) -> Any:
    """The web page on the daemon's store, beside its /metrics."""
    from watchdog.cli.ui import write_token
    from watchdog.ui import UiServer, create_app

    manifests = [d.manifest for d in daemon.deployments.values()]
    page = create_app(daemon.store, token=write_token(token_env), manifest=manifests[0] if len(manifests) == 1 else None)
    server = UiServer(page, host, port).start()
    logging.getLogger("watchdog").info("web page on %s", server.url)
    return server


@app.command()
def run(
    config: Path = typer.Option(None, "--config", "-c", help="TOML config (default: ./watchdog.toml)."),
    manifest: Path = typer.Option(None, help="Zero-config: watch every contract of this deployment manifest."),
    rpc: list[str] = typer.Option([], help="Zero-config: JSON-RPC URL (repeat for failover endpoints)."),
    ws: str = typer.Option(None, help="Zero-config: WebSocket URL for new heads."),
    store: str = typer.Option(None, help="Store URL (overrides store.url), e.g. sqlite:///watchdog.db."),
    handler: str = typer.Option(None, help="Detection handler factory module:function or file.py:function (default: the rule engine)."),
    once: bool = typer.Option(False, "--once", help="Detect up to the current head (or --to-block) and exit; no response actions."),
    to_block: int = typer.Option(None, help="With --once: the last block to process."),
    check: bool = typer.Option(False, "--check", help="Validate the configuration and exit."),
    json_logs: bool = typer.Option(None, "--json-logs/--text-logs", help="One JSON object per log line (overrides logging.json)."),
    metrics_port: int = typer.Option(None, help="Port of /metrics and /health (overrides metrics.port; 0 = any free port)."),
    ui_port: int = typer.Option(None, "--ui-port", help="Also serve the web page on this port (overrides ui.port; "
                                "writes need the token in the variable ui.token_env names; unset: read-only)."),
) -> None:
    """Run the watchdog: follow the chain, detect, store findings and hand them to the responder."""
    from watchdog.daemon import Daemon, load_factory, rule_engine, setup_logging
    from watchdog.stress.incident import incident_views

    if metrics_port is not None and not 0 <= metrics_port <= 65535:
        raise ConfigError(f"--metrics-port {metrics_port}: a port is a number from 0 (any free port) to 65535")
    if ui_port is not None and not 0 <= ui_port <= 65535:
        raise ConfigError(f"--ui-port {ui_port}: a port is a number from 0 (any free port) to 65535")
    if to_block is not None and to_block < 0:
        raise ConfigError(f"--to-block {to_block}: a block number is 0 or more")
    settings = command_settings(config, manifest, rpc, ws, store)
    if json_logs is not None:
        settings.logging.json_format = json_logs
    if metrics_port is not None:
        settings.metrics.port = metrics_port
    setup_logging(settings.logging.level, settings.logging.json_format)
    factory = load_factory(handler) if handler else rule_engine
    if check:  # everything is built, nothing is written: the store stays unopened
        daemon = Daemon(settings, handler_factory=factory, store=Store("sqlite:///:memory:"))
        Console().print(f"config ok: {len(settings.networks)} network(s), "
                        f"{sum(len(r.follower.addresses) for r in daemon.networks.values())} contract(s) watched")
        return
    daemon = Daemon(settings, handler_factory=factory)
    if once:
        try:
            daemon.run_once(to_block, expect_blocks=True)
            for name, runtime in daemon.networks.items():
                logging.getLogger("watchdog").info("%s: processed up to block %s", name, runtime.follower.checkpoint)
        finally:
            daemon.store.close()
        return
    # The responder acts on live findings only; --once is for backfills and replays.
    responder = daemon.responder_sink()
    daemon.add_sink(responder)
    responder.start()  # resume what a previous run left open (never a second transaction)
    # when an incident opens: its stress view on a fork, in the background, and its communications drafted
    views = incident_views(settings, daemon.store, {n: d.manifest for n, d in daemon.deployments.items()})
    if views is not None:
        daemon.add_sink(views)
    page = (serve_page(daemon, settings.ui.host, settings.ui.port if ui_port is None else ui_port, settings.ui.token_env)
            if settings.ui.enabled or ui_port is not None else None)
    try:
        daemon.run()
    finally:
        responder.close()
        if views is not None:
            views.close()
        if page is not None:
            page.stop()


@app.command()
def init(
    path: Path = typer.Argument(DEFAULT_CONFIG, help="Where to write the example configuration."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented example configuration."""
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists: pass --force to overwrite it, or choose another path")
    write_output(path, EXAMPLE, "the configuration file")
    Console().print(f"wrote {path}: edit networks and protocols, then `watchdog run --config {path} --check`")
