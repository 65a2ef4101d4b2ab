"""anomaly: robust per-market statistics (median / median-absolute-deviation over a rolling window, plus an
EWMA) on token flows and on the market's own metrics (open interest, funding), with a warm-up. It informs
incidents; by default it never reaches the pause threshold on its own."""

from __future__ import annotations

import statistics

from watchdog.detect import Context, Rule, Severity, Trigger
from watchdog.detect.abi import transfer_of
from watchdog.detect.registry import FUND_ROLES
from watchdog.detect.stats import remember, robust_score, values


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
    triggers = frozenset({Trigger.BLOCK})

    def evaluate(self, ctx: Context):
        for market in ctx.registry.role(*FUND_ROLES):
            for name, value in self._samples(ctx, market).items():
                finding = self._observe(ctx, market, name, value)
                if finding is not None:
                    yield finding

    def _samples(self, ctx: Context, market) -> dict[str, float]:
        """Flow volume per token and configured metrics, for blocks where the market was active."""
        out: dict[str, float] = {}
        for e in ctx.logs:
            move = transfer_of(e)
            if move and market.address in move[:2]:
                out[f"flow:{e.address}"] = out.get(f"flow:{e.address}", 0.0) + float(move[2])
        if not out and not any(e.address == market.address for e in ctx.logs):
            return {}
        for name, signature in (market.extra.get("metrics") or {}).items():
            value = ctx.read(market.address, signature)
            if value is not None:
                out[name] = float(value[0])
        return out

    def _observe(self, ctx: Context, market, name: str, value: float):
        p = self.params
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
            title=f"{market.name}: unusual {name} ({score:+.1f} robust sd)",
            severity=severity,
            description=f"{name} of {market.name} was {value:.6g} against a median of {median:.6g}.",
            addresses=[market.address],
            evidence={"market": market.name, "series": name, "value": value, "median": median,
                      "score": score, "samples": len(window)},
            key=f"{market.address}:{name}",
        )
