"""A stress report as tables, for the terminal (rich) and Markdown alike: what could be evaluated per holder, one
line per scenario, and each scenario's holders, sources, sales and the users a pause leaves unable to act."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def price(value: float | None) -> str:
    return "-" if value is None else f"{value:,.6g}"


def short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) == 42 else address


def listed(accounts: list[str], limit: int = 4) -> str:
    if not accounts:
        return "0"
    shown = ", ".join(short(a) for a in accounts[:limit])
    return f"{len(accounts)}: {shown}" + (", …" if len(accounts) > limit else "")


def tables(report: dict[str, Any]) -> list[Table]:
    quote = report.get("quote") or "the quote asset"
    out = [Table(f"What could be evaluated (values in {quote})",
                 ["holder", "protocol", "accounts", "equity read by", "liquidations read by", "liquidatable now", "value at risk"],
                 [[h["holder"], h["protocol"], f"{h['accounts']} open of {h['accounts_named']} named",
                   h["methods"]["equity"] or "not evaluated", h["methods"]["liquidation"] or "not evaluated",
                   listed(h["liquidatable"]), money(h["value_at_risk"])] for h in report["holders"]],
                 [f"{h['holder']}: {gap}" for h in report["holders"] for gap in h["gaps"]])]
    out.append(Table("Scenarios", ["scenario", "newly liquidatable", "liquidated", "blocked by a pause",
                                   "hidden by a stopped feed", "bad debt", "not covered", "value at risk after"],
                     [[s["name"], str(sum(len(h["newly_liquidatable"]) for h in s["holders"])),
                       str(s["liquidations"]["executed"]), str(sum(len(h.get("blocked", [])) for h in s["holders"])),
                       str(sum(len(h.get("hidden", [])) for h in s["holders"])), money(s["bad_debt"]), money(s["uncovered"]),
                       ", ".join(f"{p}: {money(v)}" for p, v in s["value_at_risk"].items())] for s in report["scenarios"]]))
    for s in report["scenarios"]:
        out.append(_scenario(s))
    return out


def _scenario(s: dict[str, Any]) -> Table:
    stopped = any("hidden" in h for h in s["holders"])
    paused = any("blocked" in h for h in s["holders"])
    headers = ["holder", "liquidatable (new)", "liquidated", "bad debt", "covered by", "not covered", "share price"]
    if stopped:
        headers.insert(2, "hidden by the stopped feed")
    if paused:
        headers.insert(2, "blocked by the pause")
    rows = []
    for h in s["holders"]:
        if not (h["accounts"] or h["bad_debt"] or h.get("share_price")):
            continue
        cover = ", ".join(f"{k} {money(v)}" for k, v in h["coverage"]["buffers"].items()) or "nothing"
        share = h.get("share_price") or {}
        row = [h["holder"], f"{len(h['liquidatable'])} ({len(h['newly_liquidatable'])} new)", listed(h["liquidated"]),
               money(h["bad_debt"]), cover, money(h["coverage"]["uncovered"]),
               f"{price(share.get('before'))} → {price(share.get('after'))}" if share else "-"]
        if stopped:
            row.insert(2, listed(h.get("hidden", [])))
        if paused:
            row.insert(2, listed(h.get("blocked", [])))
        rows.append(row)
    notes = []
    moved = [f"{x['source']} ({x['kind']}) {price(x['before'])} → {price(x['after'])}"
             + (" stopped" if x["stopped"] else "") for x in s["sources"]]
    if moved:
        notes.append("Sources: " + "; ".join(moved))
    if s["hold_seconds"]:
        notes.append(f"Time passed with the scenario in place: {s['hold_seconds']:,} s")
    for p in s["paused"]:
        notes.append(f"Paused {p['contract']}: " + ("; ".join(p["how"]) if p["paused"] else "could not: " + "; ".join(p["errors"])))
    for h in s["holders"]:
        if h.get("paused") and h.get("frozen_users", {}).get("accounts"):
            f = h["frozen_users"]
            notes.append(f"Users who cannot act on {h['holder']} while it is paused: {f['accounts']} accounts holding "
                         f"{money(f['equity'])} of equity")
        if h.get("after_sales"):
            notes.append(f"After the collateral was sold, {listed(h['after_sales'])} more can be liquidated on {h['holder']}")
    for sale in s["liquidations"]["sales"]:
        if sale["pool"]:
            notes.append(f"Collateral sold: {sale['amount']:,.4f} {sale['token']} through {sale['pool']}: worth "
                         f"{money(sale['value'])} at the pool's price, fetched {money(sale['proceeds'])} "
                         f"(slippage {sale['slippage']:.2%}); the pools take {sale['absorbable']:,.4f} {sale['token']} "
                         f"before the price falls {sale['max_slippage']:.0%}")
        else:
            notes.append(f"Collateral seized: {sale['amount']:,.4f} {sale['token']}: no pool pairs it with the quote asset")
    return Table(f"Scenario: {s['name']}", headers, rows, notes)


def markdown(report: dict[str, Any], chart: str | None = None) -> str:
    lines = [f"# Stress test: chain {report['chain_id']} at block {report['block']}", "",
             f"Each scenario was played on a local fork of block {report['block']}, from the same state. Values are in "
             f"{report.get('quote') or 'the quote asset'}.", ""]
    for n, table in enumerate(tables(report)):
        lines += [f"{'##' if n < 2 else '###'} {table.title}", "", "| " + " | ".join(table.headers) + " |",
                  "|" + "---|" * len(table.headers)]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in table.rows]
        lines += [""] + [f"- {note}" for note in table.notes] + ([""] if table.notes else [])
        if n == 1 and chart:
            lines += [f"![Loss against the size of the price shock]({chart})", ""]
    return "\n".join(lines)


def text(report: dict[str, Any], console: Console) -> None:
    console.print(f"stress test of chain {report['chain_id']} at block {report['block']} (played on a local fork), "
                  f"values in {report.get('quote') or 'the quote asset'}, {report['seconds']} s", highlight=False)
    for table in tables(report):
        shown = RichTable(*table.headers, title=table.title)
        for row in table.rows:
            shown.add_row(*row)
        console.print(shown)
        for note in table.notes:
            console.print(f"  {note}", highlight=False)
