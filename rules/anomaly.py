"""anomaly: robust per-market statistics (median / median-absolute-deviation over a rolling window, plus an
EWMA) on token flows and on the market's own metrics (open interest, funding), with a warm-up. It informs
incidents; by default it never reaches the pause threshold on its own."""

from __future__ import annotations

import statistics

from watchdog.detect import Context, Rule, Severity, Trigger
from watchdog.detect.abi import transfer_of
from watchdog.detect.registry import FUND_ROLES


def robust_score(value: float, window: list[float], ewma: dict, min_relative: float) -> float:
    """How far `value` is from the window, in robust standard deviations (MAD, EWMA std, a relative floor)."""
    median = statistics.median(window)
    mad = statistics.median(abs(x - median) for x in window)
    scale = max(1.4826 * mad, ewma.get("var", 0.0) ** 0.5, abs(median) * min_relative, 1e-12)
    return (value - median) / scale


class Anomaly(Rule):
    id = "anomaly"
    title = "Unusual market activity"
    severity = Severity.LOW
    confidence = 0.5
    description = ("A market's token flows or reported metrics (open interest, funding) left their usual range "
                   "(robust z-score over a rolling window, after a warm-up). Context for incidents, not a pause reason.")
    references = ("REFERENCE.md: large balance decrease outside the 95 % band after >= 10 periods",)
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
            series = self._samples(ctx, market)
            if not series:
                continue
            last = ctx.state.get(f"last:{market.address}", -1)
            if ctx.block.number <= last:
                continue  # already counted (a replayed or reprocessed block)
            ctx.state.set(f"last:{market.address}", ctx.block.number)
            for name, value in series.items():
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
        state = ctx.state.get(key, {"window": [], "ewma": {"mean": value, "var": 0.0}})
        window, ewma = state["window"], state["ewma"]
        finding = None
        if len(window) >= p["warmup"]:
            score = robust_score(value, window, ewma, p["min_relative"])
            if abs(score) >= p["z_threshold"]:
                severity = Severity.MEDIUM if abs(score) >= 2 * p["z_threshold"] else Severity.LOW
                severity = min(severity, Severity(p["max_severity"]), key=lambda s: s.rank)
                finding = ctx.finding(
                    title=f"{market.name}: unusual {name} ({score:+.1f} robust sd)",
                    severity=severity,
                    description=f"{name} of {market.name} was {value:.6g} against a median of {statistics.median(window):.6g}.",
                    addresses=[market.address],
                    evidence={"market": market.name, "series": name, "value": value, "median": statistics.median(window),
                              "score": score, "samples": len(window)},
                    key=f"{market.address}:{name}",
                )
        delta = value - ewma["mean"]
        ewma["mean"] += p["alpha"] * delta
        ewma["var"] = (1 - p["alpha"]) * (ewma["var"] + p["alpha"] * delta * delta)
        state["window"] = (window + [value])[-p["window"]:]
        ctx.state.set(key, state)
        return finding
