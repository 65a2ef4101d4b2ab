"""The root `watchdog` command; each subsystem adds its commands from its own cli module.

Every command's errors leave through one path (`Commands.invoke`): a WatchdogError is one red line per problem
and exit code 2; anything else is one line too, naming the error (`--debug` shows its traceback). Each line is
redacted first, so no password or API key in a URL reaches the terminal.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from watchdog.errors import WatchdogError
from watchdog.redaction import install_log_redaction, redact_text

INTERNAL_EXIT = 2  # an error that is not the input's fault still means "nothing was done"


def print_error(message: str) -> None:
    """Each line of `message` as `error: ...` on stderr, redacted (no rich markup from the message is obeyed)."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in redact_text(message).splitlines() or [""]:
        console.print(f"[bold red]error:[/] {escape(line)}")


class Commands(TyperGroup):
    """The root group: runs a command and turns whatever it raises into the lines the user sees."""

    def invoke(self, ctx: Any) -> Any:
        install_log_redaction()
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # exit codes and usage errors: click reports them
        except BrokenPipeError:  # the reader left (`| head`): stop quietly, as a tool killed by SIGPIPE would
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
            raise typer.Exit(128 + signal.SIGPIPE) from None
        except WatchdogError as exc:
            if _debugging(ctx):
                raise
            print_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:  # a bug, or an input nothing checked: still one line, never a traceback
            if _debugging(ctx):
                raise
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print_error(f"{type(exc).__name__}{': ' + detail if detail else ''} (run `watchdog --debug ...` for the traceback)")
            raise typer.Exit(INTERNAL_EXIT) from None


def _debugging(ctx: Any) -> bool:
    return bool(ctx.params.get("debug")) or os.environ.get("WATCHDOG_DEBUG", "") not in ("", "0")


app = typer.Typer(
    name="watchdog",
    cls=Commands,
    help="Security watchdog for DeFi derivatives protocols and their price oracles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error (or set WATCHDOG_DEBUG=1).")) -> None:
    """Security watchdog for DeFi derivatives protocols and their price oracles."""
