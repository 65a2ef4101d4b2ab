"""`watchdog` console script: registers every command module on `app`, whose root group reports every error
as one line (see watchdog.cli.app)."""

from __future__ import annotations

from watchdog.cli.app import app

# Importing a command module registers its commands on `app`.
from watchdog.cli import bench, demo, devnet, doctor, drill, incidents, proposals, replay, rules, run, scan  # noqa: E402,F401

__all__ = ["app", "main"]


def main() -> None:
    app()
