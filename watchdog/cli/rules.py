"""`watchdog rules list`: every detection rule the watchdog would run, with its triggers, checks and parameters."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Column, Table

from watchdog.cli.app import app

rules_app = typer.Typer(help="The detection rules: built-in ones and those of your rule directories.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


def describe(cls: type) -> dict[str, Any]:
    """What a user needs to know about one rule class to enable, disable and tune it, check by check."""
    checks = [{"id": f"{cls.id}.{name}", "title": check.title, "severity": check.severity.value,
               "params": list(check.params), "description": check.description} for name, check in cls.checks.items()]
    return {
        "id": cls.id, "title": cls.title, "severity": cls.severity.value, "confidence": cls.confidence,
        "triggers": sorted(t.value for t in cls.triggers()), "params": dict(cls.params), "checks": checks,
        "description": cls.description, "source": inspect.getsourcefile(cls),
    }


@rules_app.command("list")
def list_rules(
    rule_dir: list[Path] = typer.Option([], "--rule-dir", help="Also list the rules of this directory (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List the rules: id, title, usual severity, triggers, parameters with their defaults, and each check (the
    id its findings carry, its title, usual severity and the parameters it uses)."""
    from watchdog.detect.loader import discover

    rows = [describe(cls) for cls in discover(rule_dir).values()]
    if as_json:
        typer.echo(json.dumps(rows, indent=1, default=str))
        return
    table = Table(Column("id", no_wrap=True), "severity", "triggers", "parameters (defaults)", "title",
                  title=f"{len(rows)} rule(s)")
    for row in rows:
        params = "\n".join(f"{k} = {v!r}" for k, v in row["params"].items())
        table.add_row(row["id"], row["severity"], ", ".join(row["triggers"]), params, row["title"], end_section=not row["checks"])
        for n, check in enumerate(row["checks"]):
            table.add_row("  ." + check["id"].split(".", 1)[1], check["severity"], "", ", ".join(check["params"]), check["title"],
                          end_section=n == len(row["checks"]) - 1)
    Console().print(table)
