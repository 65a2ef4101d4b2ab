"""`watchdog` console script: registers every command module, turns user errors into one line."""

from __future__ import annotations

import sys

from rich.console import Console

from watchdog.cli.app import app
from watchdog.errors import WatchdogError

# Importing a command module registers its commands on `app`.
from watchdog.cli import (  # noqa: E402,F401
    bench, demo, devnet, doctor, drill, forensics, incidents, manifest, proposals, protocol, recover, replay, rules, run, scan,
    stress, ui,
)

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except WatchdogError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
