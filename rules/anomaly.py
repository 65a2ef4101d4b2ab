"""anomaly: robust per-market statistics (median / median-absolute-deviation over a rolling window, plus an
EWMA) on token flows and on the market's own metrics (open interest, funding), with a warm-up. It informs
incidents; by default it never reaches the pause threshold on its own."""

from __future__ import annotations

import statistics

from watchdog.detect import Check, Context, Rule, Severity
from watchdog.detect.registry import FUND_ROLES
from watchdog.detect.stats import remember, robust_score, values

STATISTICS = ("warmup", "window", "z_threshold", "min_relative", "alpha", "max_severity")


class Anomaly(Rule):
    id = "anomaly"
    title = "Unusual market activity"
    severity = Severity.LOW
    confidence = 0.5
    description = ("A market's token flows or reported metrics (open interest, funding) left their usual range "
                   "(robust z-score over a rolling window, after a warm-up). Context for incidents, not a pause reason.")
    references = ("Published detection heuristics: large balance decrease outside the 95 % band of a per-period "
                  "model after >= 10 periods",)
    params = {
        "warmup": 20,             # samples before the rule speaks
        "window": 50,             # rolling samples kept per series
        "z_threshold": 6.0,
        "min_relative": 0.05,     # spread floor as a share of the median (flat series are not alarming)
        "alpha": 0.1,             # EWMA weight
        "max_severity": "medium",
    }
    checks = {
        "flow": Check("Unusual token flow", Severity.LOW, STATISTICS,
                      "A market's token flow volume in a block is z_threshold robust deviations from its usual "
                      "(medium from twice that, never above max_severity)."),
        "metric": Check("Unusual market metric", Severity.LOW, STATISTICS,
                        "A metric the manifest names for a market (`metrics`: name -> view) left its usual range."),
    }

    def on_block(self, ctx: Context):
        for market in ctx.registry.role(*FUND_ROLES):
            for (check, name), value in self._samples(ctx, market).items():
                finding = self._observe(ctx, check, market, name, value)
                if finding is not None:
                    yield finding

    def _samples(self, ctx: Context, market) -> dict[tuple[str, str], float]:
        """Flow volume per token and configured metrics, for blocks where the market was active."""
        out: dict[tuple[str, str], float] = {}
        flows = [m for m in ctx.transfers() if market.address in (m.sender, m.recipient)]
        if not flows and not any(e.address == market.address for e in ctx.logs):
            return {}
        if ctx.enabled("flow"):
            for move in flows:
                out[("flow", f"flow:{move.token}")] = out.get(("flow", f"flow:{move.token}"), 0.0) + float(move.value)
        if ctx.enabled("metric"):
            for name, signature in (market.extra.get("metrics") or {}).items():
                value = ctx.read(market.address, signature)
                if value is not None:
                    out[("metric", name)] = float(value[0])
        return out

    def _observe(self, ctx: Context, check: str, market, name: str, value: float):
        p = ctx.params_of(check)
        key = f"series:{market.address}:{name}"
        history = ctx.state.get(key, [])
        window = values([x for x in history if x[0] < ctx.block.number])  # what came before this block
        history, new = remember(history, ctx.block.number, ctx.block.hash, name, value, p["window"] + 1)
        if not new:
            return None  # this block was counted already (a replay or a reprocessed block)
        ctx.state.set(key, history)
        if len(window) < p["warmup"]:
            return None
        score = robust_score(value, window, p["alpha"], p["min_relative"])
        if abs(score) < p["z_threshold"]:
            return None
        severity = Severity.MEDIUM if abs(score) >= 2 * p["z_threshold"] else Severity.LOW
        severity = min(severity, Severity(p["max_severity"]), key=lambda s: s.rank)
        median = statistics.median(window)
        return ctx.finding(
            check=check, title=f"{market.name}: unusual {name} ({score:+.1f} robust sd)",
            severity=severity,
            description=f"{name} of {market.name} was {value:.6g} against a median of {median:.6g}.",
            addresses=[market.address],
            evidence={"market": market.name, "series": name, "value": value, "median": median,
                      "score": score, "samples": len(window)},
            key=f"{market.address}:{name}",
        )
