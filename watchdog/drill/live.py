"""Live console output of drills: progress, findings as they appear, the pause, and the summary tables."""

from __future__ import annotations

import logging
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from watchdog.drill.measure import detection_rows, shown
from watchdog.drill.watch import NETWORK
from watchdog.finding import Severity
from watchdog.store.responder import ActionStatus

STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim", "info": "dim"}


def _money(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:,.0f} {unit}"


def quiet_console_logs() -> None:
    """In a drill command the console belongs to the drill: log records go to the drill's log file only."""
    logging.getLogger().handlers[:] = [logging.NullHandler()]


class LiveConsole:
    """An `emit` for run_drill that prints each event as one line, with the seconds since the drill began."""

    def __init__(self, console: Console, *, verbose: bool = True) -> None:
        self.console = console
        self.verbose = verbose  # also benign findings below medium and every step sent
        self.started = time.monotonic()

    def line(self, text: str) -> None:
        self.console.print(f"[dim]{time.monotonic() - self.started:6.1f}s[/] {text}", highlight=False, soft_wrap=True)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(**data)

    def on_start(self, scenario: Any) -> None:
        self.line("fresh devnet: loading the test world (the first run compiles the contracts and deploys it, "
                  "then caches the chain state)")

    def on_devnet(self, networks: dict[str, tuple[str, int, int]], world: Any) -> None:
        for name, (url, block, contracts) in networks.items():
            where = "devnet" if len(networks) == 1 else f"network {name}"
            self.line(f"{where} up at {url}: test world loaded at block {block}, {contracts} contracts in its manifest")

    def on_watchdog(self, mempool: bool, respond: bool) -> None:
        paths = "new blocks (0 confirmations)" + (" and the mempool" if mempool else "")
        action = "pauses as the manifest says on high or critical findings" if respond else "detection only (pauses dry-run)"
        self.line(f"watchdog running: follows {paths}; responder {action}")

    def on_traffic(self, txs: dict[str, int], block: int) -> None:
        what = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in txs.items())
        self.line(f"benign traffic done ({what}); head at block {block}")

    def on_attack(self, scenario: Any, block: int) -> None:
        if scenario.benign:
            self.line(f"[bold]{scenario.title}[/]: no attack; watching a few more blocks")
            return
        self.line(f"[bold red]ATTACK[/] {scenario.title}: {scenario.summary}")

    def on_step_sent(self, step: Any) -> None:
        if self.verbose and step.attack:
            self.line(f"  {step.actor} sends: {step.name} [dim]{step.tx_hash}[/]")

    def on_step_mined(self, step: Any) -> None:
        if step.tx_hash is None:
            self.line(f"  block {step.block}: {step.name}")
            return
        mark = "[green]succeeded[/]" if step.succeeded else "[bold green]REVERTED[/]" if step.attack else "[red]reverted[/]"
        self.line(f"  block {step.block}: {step.actor}: {step.name} -> {mark}")

    def on_finding(self, finding: Any) -> None:
        if finding.severity < Severity.MEDIUM and not self.verbose:
            return
        where = "in the MEMPOOL" if finding.pending else f"block {finding.block}"
        style = STYLE.get(finding.severity.value, "")
        self.line(f"  [{style}]finding {finding.severity.value.upper()} {finding.rule_id}[/] ({where}): {finding.title}")

    def on_pause(self, action: Any) -> None:
        where = "" if action.network == NETWORK else f" on {action.network}"
        if action.status == "sent":
            self.line(f"  [bold cyan]PAUSE sent[/]: {action.contract}{where}")
        elif action.status == ActionStatus.MINED:
            self.line(f"  [bold cyan]PAUSED[/]: {action.contract}{where} in block {action.block_number}")
        elif action.status in ("failed", "reverted"):
            self.line(f"  [red]pause of {action.contract} {action.status}[/]: {action.error or action.tx_hash}")

    def on_settled(self, block: int) -> None:
        self.line(f"drill over at block {block}; measuring")


def summary(result: dict[str, Any]) -> Table:
    """The measurements of one drill."""
    table = Table(title=f"drill {result['scenario']}", show_header=False, title_justify="left")
    table.add_column("measure", style="bold")
    table.add_column("value")
    rows = [
        *detection_rows(result),
        ("pause block", result["pause_block"] if result["paused"] else ("dry-run" if result["would_pause"] else "none")),
        ("blocks to contain", result["blocks_to_contain"]),
        ("pre-empted", shown(result["preempted"])),
        ("attack txs", " ".join(("ok" if t["succeeded"] else "REVERTED") for t in result["attack_txs"] if t["attack"]) or None),
        ("attack succeeded", shown(result["attack_succeeded"])),
        ("funds at risk", _money(result["funds_at_risk"], result["unit"])),
        ("funds lost", _money(result["funds_lost"], result["unit"])),
        ("funds saved", _money(result["funds_saved"], result["unit"])),
        ("false pauses", result["false_pauses"]),
    ]
    for name, value in rows:
        table.add_row(name, shown(value))
    return table


def scoreboard_table(results: list[dict[str, Any]], board: dict[str, Any]) -> Table:
    unit = results[0]["unit"] if results else ""
    table = Table(title=f"drill scoreboard (funds in {unit})", title_justify="left")
    for column in ("scenario", "detected", "first rule", "ms", "blocks", "pre-empted", "attack ok", "lost", "false pauses",
                   "high findings"):
        table.add_column(column, no_wrap=column == "scenario")
    for r in results:
        table.add_row(r["scenario"], shown(r["detected"]) if not r["benign"] else "-", r["first_rule"] or "-",
                      shown(r["detect_latency_ms"]), shown(r["blocks_to_contain"]), shown(r["preempted"]),
                      shown(r["attack_succeeded"]), f"{r['funds_lost']:,.0f}", str(r["false_pauses"]),
                      str(r["high_findings"]) if r["benign"] else "-")
    median = board["median_blocks_to_contain"]
    table.caption = (f"detected {board['detected_pct']}% · contained {board['contained_pct']}% · median blocks to contain "
                     f"{'-' if median is None else f'{median:g}'} · false pauses {board['false_pauses']} · "
                     f"lost {_money(board['funds_lost'], unit)} of {_money(board['funds_at_risk'], unit)} at risk")
    return table
