"""`watchdog ui`: the web page for signers and responders (read-only unless a write token is set)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import typer

from watchdog.cli.app import app
from watchdog.cli.incidents import CONFIG_OPTION, STORE_OPTION, open_store
from watchdog.errors import ConfigError
from watchdog.manifest import load_manifest
from watchdog.ui import UiServer, create_app

TOKEN_ENV = "WATCHDOG_UI_TOKEN"


def write_token(env: str) -> str | None:
    token = os.environ.get(env)
    if token is not None and len(token) < 16:
        raise ConfigError(f"the write token in {env} is shorter than 16 characters: use a long random one")
    return token or None


@app.command("ui")
def ui(
    store: str = STORE_OPTION,
    config: Path = CONFIG_OPTION,
    manifest: Path = typer.Option(None, "--manifest", help="Name contracts on the page with this manifest."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    token_env: str = typer.Option(TOKEN_ENV, "--token-env",
                                  help="Environment variable holding the write token (unset: read-only)."),
) -> None:
    """Serve the page: incidents, findings, proposals (safeTxHash recomputed in the page), recovery plans."""
    token = write_token(token_env)
    page = create_app(open_store(store, config), token=token, manifest=load_manifest(manifest) if manifest else None)
    server = UiServer(page, host, port).start()
    typer.echo(f"watchdog page on {server.url} ({'writes need the token' if token else 'read-only'}); Ctrl-C stops it")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
