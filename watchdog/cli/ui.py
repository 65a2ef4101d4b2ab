"""`watchdog ui`: the web page for signers and responders (read-only unless a write token is set)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import typer

from watchdog.cli.app import app
from watchdog.cli.incidents import CONFIG_OPTION, STORE_OPTION, open_store
from watchdog.config import DEFAULT_CONFIG, load_settings
from watchdog.config.settings import UiConfig
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
    host: str = typer.Option(None, "--host", help="Interface to listen on (default: ui.host of the config, else "
                                                  "127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=0, max=65535, help="Port to listen on (default: ui.port, else 8080)."),
    token_env: str = typer.Option(None, "--token-env", help="Environment variable holding the write token (default: "
                                                            f"ui.token_env, else {TOKEN_ENV}; unset: read-only)."),
) -> None:
    """Serve the page: incidents, findings, proposals (safeTxHash recomputed in the page), recovery plans."""
    section = _section(config)
    token = write_token(token_env or section.token_env)
    page = create_app(open_store(store, config), token=token, manifest=load_manifest(manifest) if manifest else None)
    server = UiServer(page, host or section.host, section.port if port is None else port).start()
    typer.echo(f"watchdog page on {server.url} ({'writes need the token' if token else 'read-only'}); Ctrl-C stops it")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()


def _section(config: Path | None) -> UiConfig:
    """The `[ui]` section of the config (its defaults without one)."""
    path = config or DEFAULT_CONFIG
    return load_settings(path).ui if config is not None or path.is_file() else UiConfig()
