"""The root `watchdog` command; each subsystem adds its commands from its own cli module."""

import typer

app = typer.Typer(
    name="watchdog",
    help="Security watchdog for DeFi derivatives protocols and their price oracles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
