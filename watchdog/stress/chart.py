"""The loss of each asset's shocks against the shock's size, as a small SVG written here (no plotting library):
bad debt and the part no pool or insurance fund covers, one point per shock scenario of the run."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 40, 50
SERIES = (("bad_debt", "bad debt", "#c0392b"), ("uncovered", "not covered", "#2c3e50"))


def series(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Asset -> its shock scenarios sorted by size (assets shocked at two sizes or more)."""
    by_asset: dict[str, list[dict[str, Any]]] = {}
    for s in report["scenarios"]:
        if s["kind"] == "shock" and s["move"] is not None:
            by_asset.setdefault(s["asset"] or s["target"], []).append(s)
    return {a: sorted(rows, key=lambda r: r["move"]) for a, rows in by_asset.items() if len(rows) >= 2}


def svg(report: dict[str, Any]) -> str | None:
    """One chart per shocked asset, stacked; None when no asset was shocked at two sizes."""
    charts = series(report)
    if not charts:
        return None
    parts = [_chart(asset, rows, report.get("quote") or "quote asset", n * HEIGHT) for n, (asset, rows) in enumerate(charts.items())]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT * len(parts)}" '
            f'font-family="sans-serif" font-size="12">\n' + "\n".join(parts) + "\n</svg>\n")


def _chart(asset: str, rows: list[dict[str, Any]], quote: str, top: int) -> str:
    xs = [r["move"] * 100 for r in rows]
    high = max([r[key] for r in rows for key, _, _ in SERIES] + [0.0])
    y_max = _nice(high) if high > 0 else 1.0
    x_low, x_high = min(xs + [0.0]), max(xs + [0.0])
    span = (x_high - x_low) or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(v: float) -> float:
        return LEFT + (v - x_low) / span * inner_w

    def y(v: float) -> float:
        return top + TOP + inner_h - v / y_max * inner_h

    out = [f'<text x="{WIDTH / 2}" y="{top + 22}" text-anchor="middle" font-size="14">'
           f'Loss against the size of a {escape(asset)} price shock</text>',
           f'<line x1="{LEFT}" y1="{y(0)}" x2="{WIDTH - RIGHT}" y2="{y(0)}" stroke="#444"/>',
           f'<line x1="{LEFT}" y1="{top + TOP}" x2="{LEFT}" y2="{y(0)}" stroke="#444"/>']
    for n in range(5):
        value = y_max * n / 4
        out.append(f'<line x1="{LEFT - 4}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{y(value):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y(value) + 4:.1f}" text-anchor="end">{_short(value)}</text>')
    for v in xs:
        out.append(f'<text x="{x(v):.1f}" y="{y(0) + 18:.1f}" text-anchor="middle">{v:+.0f}%</text>')
    out.append(f'<text x="{WIDTH / 2}" y="{top + HEIGHT - 10}" text-anchor="middle">shock to the price of {escape(asset)}</text>')
    out.append(f'<text x="16" y="{top + TOP + inner_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {top + TOP + inner_h / 2})">loss ({escape(quote)})</text>')
    for n, (key, name, color) in enumerate(SERIES):
        points = " ".join(f"{x(v):.1f},{y(r[key]):.1f}" for v, r in zip(xs, rows))
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        out += [f'<circle cx="{x(v):.1f}" cy="{y(r[key]):.1f}" r="3" fill="{color}"><title>{name} at {v:+.0f}%: '
                f'{r[key]:,.2f}</title></circle>' for v, r in zip(xs, rows)]
        legend = WIDTH - RIGHT - 110
        out.append(f'<rect x="{legend}" y="{top + TOP + 4 + n * 16}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{legend + 16}" y="{top + TOP + 13 + n * 16}">{name}</text>')
    return f'<g class="chart" data-asset="{escape(asset)}">\n' + "\n".join(out) + "\n</g>"


def _nice(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value`."""
    power = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _short(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"
