"""`watchdog demo`: the main job that `make demo` runs — the flagship drill, narrated live."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from watchdog.cli.app import app
from watchdog.cli.drill import default_out

FLAGSHIP = "flash-loan-spot"


@app.command()
def demo(
    out: Path = typer.Option(None, help="Directory for the report and logs (default: .watchdog/drills/<UTC time>)."),
    block_time: float = typer.Option(1.0, min=0.05, help="Seconds between blocks during the attack."),
) -> None:
    """The whole product in about a minute: a local chain with a perpetuals protocol, the watchdog following it,
    a flash-loan price-manipulation attack, its detection, the pause, and the incident report."""
    from watchdog.drill import DrillOptions, run_drill
    from watchdog.drill.live import LiveConsole, quiet_console_logs, summary

    quiet_console_logs()
    console = Console()
    console.rule("watchdog demo")
    console.print("A local devnet runs a small perpetuals protocol (market, vault, oracles, Uniswap V2 pools, a Safe and a "
                  "guardian). The watchdog daemon follows it with its rules and a responder allowed to pause through the "
                  "guardian. After some honest trading, an attacker manipulates the spot price with a flash loan, again "
                  "and again, one block apart.", highlight=False)
    result = run_drill(FLAGSHIP, DrillOptions(out_dir=out or default_out(), block_time=block_time), LiveConsole(console))
    console.print(summary(result))
    if result["detected"] and result["paused"]:
        console.print(f"[bold green]Detected[/] by {result['first_rule']} {result['detect_latency_ms']} ms after the attack "
                      f"was mined; [bold green]paused[/] {result['blocks_to_contain']} block(s) later. "
                      f"Lost {result['funds_lost']:,.0f} dUSD, saved {result['funds_saved']:,.0f} dUSD.", highlight=False)
    else:
        console.print("[bold red]The attack was not contained[/]: see the report.")
    console.print("next: `watchdog drill --list` for the other scenarios, `watchdog drill all` for the scoreboard.")
    console.print(f"incident report: {result['report']['markdown']}", highlight=False, soft_wrap=True)
    if not (result["detected"] and result["paused"]):
        raise typer.Exit(1)
