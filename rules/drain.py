"""drain: a watched vault, market or lending pool loses more than a share of a token balance, or far more than
its usual outflow, in one transaction or one block."""

from __future__ import annotations

from watchdog.detect import Context, Rule, Severity, Trigger
from watchdog.detect.abi import transfer_of
from watchdog.detect.stats import ewma, remember, values
from watchdog.detect.registry import FUND_ROLES


def net_flows(logs, holders: set[str]) -> dict[tuple[str, str], int]:
    """(holder, token) -> tokens that left minus tokens that arrived, from Transfer logs."""
    out: dict[tuple[str, str], int] = {}
    for e in logs:
        move = transfer_of(e)
        if move is None:
            continue
        src, dst, value = move
        if src in holders:
            out[(src, e.address)] = out.get((src, e.address), 0) + value
        if dst in holders:
            out[(dst, e.address)] = out.get((dst, e.address), 0) - value
    return out


class Drain(Rule):
    id = "drain"
    title = "Funds drained"
    severity = Severity.HIGH
    confidence = 0.85
    description = ("A watched vault, market or lending pool lost more than `max_fraction` of a token balance, or "
                   "more than `usual_multiple` times its usual outflow, in one transaction or block.")
    references = ("Published detection heuristics: asset drained (balance falls >= 99 % block over block, loss > "
                  "10k); large balance decrease outside the usual band",)
    params = {
        "max_fraction": 0.5,        # share of the balance leaving in one tx/block that is alarming
        "critical_fraction": 0.9,
        "usual_multiple": 10.0,     # x the EWMA of past outflows (after warm-up) is reported
        "warmup": 10,               # outflows observed before the usual-outflow check speaks
        "alpha": 0.2,               # EWMA weight of the newest outflow
        "min_value": 10_000.0,      # quote units: smaller losses stay low severity
    }
    triggers = frozenset({Trigger.TX, Trigger.PENDING, Trigger.BLOCK})

    def evaluate(self, ctx: Context):
        holders = {w.address for w in ctx.registry.role(*FUND_ROLES)}
        if ctx.trigger is Trigger.BLOCK:
            yield from self._block(ctx, holders)
            return
        earlier = [e for e in ctx.block_logs if not ctx.pending and e.tx_index < (ctx.tx.index or 0)]
        before_tx = net_flows(earlier, holders)
        for (holder, token), outflow in net_flows(ctx.tx_logs(), holders).items():
            if outflow <= 0:
                continue
            start = (ctx.balance_of(token, holder, ctx.before) or 0) - before_tx.get((holder, token), 0)
            key = f"usual:{holder}:{token}"
            history = ctx.state.get(key, [])
            past = [x for x in history if x[2] != ctx.tx.hash and (ctx.pending or x[0] < ctx.block.number)]
            finding = self._judge(ctx, holder, token, outflow, start, self._usual(values(past)))
            if finding is not None:
                yield finding
            if not ctx.pending:
                history, new = remember(history, ctx.block.number, ctx.block.hash, ctx.tx.hash, float(outflow), 200)
                if new:
                    ctx.state.set(key, history)

    def _usual(self, past: list[float]) -> float | None:
        """The usual outflow (EWMA of past ones) once warmed up."""
        if len(past) < self.params["warmup"]:
            return None
        return ewma(past, self.params["alpha"])[0]

    def _judge(self, ctx: Context, holder: str, token: str, outflow: int, start: int, usual: float | None, txs: int = 1):
        p = self.params
        fraction = outflow / start if start > 0 else 1.0
        multiple = outflow / usual if usual else None
        if fraction >= p["critical_fraction"]:
            severity = Severity.CRITICAL
        elif fraction >= p["max_fraction"]:
            severity = Severity.HIGH
        elif multiple is not None and multiple >= p["usual_multiple"]:
            severity = Severity.MEDIUM
        else:
            return None
        value = ctx.value(token, outflow)
        if value is not None and value < p["min_value"]:
            severity = Severity.LOW
        name = ctx.registry.get(holder).name
        token_name = ctx.registry.get(token).name if ctx.registry.get(token) else token
        return ctx.finding(
            title=f"{name} lost {fraction:.0%} of its {token_name}" + (f" over {txs} transactions" if txs > 1 else ""),
            severity=severity,
            description=(f"{outflow} units of {token_name} left {name} (balance before {start}); "
                         + (f"{multiple:.1f}x its usual outflow; " if multiple else "") + f"value {value if value is None else round(value, 2)}."),
            addresses=[holder, token] + ([ctx.tx.sender] if ctx.tx else []),
            evidence={"holder": name, "token": token, "outflow": str(outflow), "balance_before": str(start),
                      "fraction": fraction, "usual_multiple": multiple, "value": value, "txs": txs},
            labels={"actor": ctx.tx.sender} if ctx.tx else {}, key=f"{holder}:{token}",
        )

    def _block(self, ctx: Context, holders: set[str]):
        """Several transactions that each stay under the threshold but drain together."""
        per_tx: dict[str, list] = {}
        for e in ctx.logs:
            per_tx.setdefault(e.tx_hash, []).append(e)
        for (holder, token), outflow in net_flows(ctx.logs, holders).items():
            if outflow <= 0:
                continue
            start = ctx.balance_of(token, holder, ctx.before) or 0
            if start <= 0:
                continue
            single = max(net_flows(logs, {holder}).get((holder, token), 0) for logs in per_tx.values())
            if single / start >= self.params["max_fraction"] or outflow / start < self.params["max_fraction"]:
                continue  # one tx alone already crossed the line (reported per tx), or the block is fine
            txs = sum(1 for logs in per_tx.values() if net_flows(logs, {holder}).get((holder, token), 0) > 0)
            finding = self._judge(ctx, holder, token, outflow, start, None, txs=txs)
            if finding is not None:
                yield finding
