"""`watchdog drill`: replay an attack on a local chain against the real watchdog and measure detection and
containment; `all` runs every scenario and prints a scoreboard."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from watchdog.cli.app import app

DRILLS_DIR = Path(".watchdog") / "drills"


def default_out() -> Path:
    return DRILLS_DIR / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


@app.command()
def drill(
    name: str = typer.Argument(None, help="Scenario to run (see --list), or `all`."),
    list_: bool = typer.Option(False, "--list", help="List the scenarios and exit."),
    json_output: bool = typer.Option(False, "--json", help="Progress on stderr; the last stdout line is the result as JSON "
                                                           "(a list of results for `all`)."),
    no_response: bool = typer.Option(False, "--no-response", help="Detection only: the responder records the pauses it "
                                                                  "would send (dry-run) and the attack runs its course."),
    out: Path = typer.Option(None, help="Directory for reports and logs (default: .watchdog/drills/<UTC time>)."),
    block_time: float = typer.Option(1.0, min=0.05, help="Seconds between blocks during the attack (never ahead of the "
                                                          "watchdog by more than 12 s, about one mainnet block)."),
    traffic_rounds: int = typer.Option(2, min=0, help="Rounds of benign background traffic before the attack."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Deploy the test world instead of loading the cached state."),
    world: str = typer.Option(None, "--world", help="The test world: demo (or 1), harbor (or 2), a suite of "
                                                     "protocols the watchdog was not written for, or bridge (or 3), a "
                                                     "token bridge between two networks (two anvils). Default: demo; "
                                                     "every world for `all`, one scoreboard each."),
) -> None:
    """Tabletop exercise: a fresh devnet, a test world, the watchdog daemon, benign traffic, then an attack;
    measures time to detect and time to contain and writes an incident report (Markdown + JSON)."""
    from watchdog.drill import DrillOptions, drills, run_drill, scoreboard
    from watchdog.drill.live import LiveConsole, quiet_console_logs, scoreboard_table, summary
    from watchdog.drill.runner import scenario
    from watchdog.errors import WatchdogError
    from watchdog.scenarios.catalogue import CATALOGUES

    if list_:
        table = Table("world", "scenario", "what happens", show_lines=True)
        for each in [world] if world else list(CATALOGUES):
            for offered in drills(each).values():
                table.add_row(each, offered.name, f"[bold]{offered.title}[/]\n{offered.summary}")
        Console().print(table)
        return
    if not name:
        raise WatchdogError("name a scenario (or `all`): `watchdog drill --list` shows them")
    worlds = [world] if world else list(CATALOGUES) if name == "all" else ["demo"]
    plan = [(w, n) for w in worlds for n in (list(drills(w)) if name == "all" else [scenario(name, w).name])]
    quiet_console_logs()
    console = Console(stderr=json_output)
    results: dict[str, list[dict]] = {}
    for each, scenario_name in plan:
        options = DrillOptions(out_dir=out or default_out(), respond=not no_response, block_time=block_time,
                               traffic_rounds=traffic_rounds, use_cache=not no_cache, world=each)
        console.rule(f"drill {scenario_name}" + (f" ({each})" if len(worlds) > 1 else ""))
        result = run_drill(scenario_name, options, LiveConsole(console, verbose=not json_output))
        result["world"] = each
        results.setdefault(each, []).append(result)
        console.print(summary(result))
        console.print(f"report: {result['report']['markdown']} (and {Path(result['report']['json']).name})")
        if json_output and len(plan) > 1:
            typer.echo(json.dumps(result))
    if len(plan) > 1:
        boards = {each: scoreboard(of_world) for each, of_world in results.items()}
        for each, of_world in results.items():
            console.print(scoreboard_table(of_world, boards[each]))
        if json_output:
            for each, board in boards.items():
                typer.echo(json.dumps({"world": each, "scoreboard": board}))
            typer.echo(json.dumps([r for of_world in results.values() for r in of_world]))
    elif json_output:
        typer.echo(json.dumps(next(iter(results.values()))[0]))
