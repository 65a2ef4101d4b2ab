"""`watchdog` console script: registers every command module on `app`, whose root group reports every error
as one line (see watchdog.cli.app)."""

from __future__ import annotations

from watchdog.cli.app import app

# Importing a command module registers its commands on `app`.
from watchdog.cli import (  # noqa: E402,F401
    bench, demo, devnet, doctor, drill, forensics, incidents, manifest, proposals, protocol, recover, replay, rules, run, scan,
    stress, ui,
)

__all__ = ["app", "main"]


def main() -> None:
    app()
