"""drain: a watched vault, market or lending pool loses more than a share of a token balance (or of its native
coin), or far more than its usual outflow, in one transaction or one block."""

from __future__ import annotations

from watchdog.chain.events import CallFrame
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


NATIVE = "0x" + "ee" * 20  # the usual stand-in address for the chain's native coin (ETH)


def native_flows(trace: CallFrame | None, holders: set[str]) -> dict[tuple[str, str], int]:
    """(holder, NATIVE) -> wei that left minus wei that arrived, from a trace's call frames. A frame that
    reverted moved nothing, nor did anything under it; a delegatecall's value is its caller's, not a transfer."""
    out: dict[tuple[str, str], int] = {}
    stack = [trace] if trace is not None else []
    while stack:
        frame = stack.pop()
        if frame.error:
            continue
        if frame.value and frame.type not in ("DELEGATECALL", "STATICCALL"):
            if frame.sender in holders:
                out[(frame.sender, NATIVE)] = out.get((frame.sender, NATIVE), 0) + frame.value
            if frame.to in holders:
                out[(frame.to, NATIVE)] = out.get((frame.to, NATIVE), 0) - frame.value
        stack.extend(frame.calls)
    return out


class Drain(Rule):
    id = "drain"
    title = "Funds drained"
    severity = Severity.HIGH
    confidence = 0.85
    description = ("A watched vault, market or lending pool lost more than `max_fraction` of a token balance (or of "
                   "its native coin), or more than `usual_multiple` times its usual outflow, in one transaction or block.")
    references = ("Published detection heuristics: asset drained (balance falls >= 99 % block over block, loss > "
                  "10k); large balance decrease outside the usual band",)
    params = {
        "max_fraction": 0.5,        # share of the balance leaving in one tx/block that is alarming
        "critical_fraction": 0.9,
        "usual_multiple": 10.0,     # x the EWMA of past outflows (after warm-up) is reported
        "warmup": 10,               # outflows observed before the usual-outflow check speaks
        "alpha": 0.2,               # EWMA weight of the newest outflow
        "min_value": 10_000.0,      # quote units: smaller losses stay low severity
        "native_asset": "WETH",     # watched token priced like the native coin (for the value floor)
    }
    triggers = frozenset({Trigger.TX, Trigger.PENDING, Trigger.BLOCK})

    def evaluate(self, ctx: Context):
        holders = {w.address for w in ctx.registry.role(*FUND_ROLES)}
        if ctx.trigger is Trigger.BLOCK:
            yield from self._block(ctx, holders)
            yield from self._native_block(ctx, holders)
            return
        earlier = [e for e in ctx.block_logs if not ctx.pending and e.tx_index < (ctx.tx.index or 0)]
        before_tx = net_flows(earlier, holders)  # native coin: from the block's start (earlier txs are not traced)
        flows = net_flows(ctx.tx_logs(), holders)
        poorer = self._poorer(ctx, holders)
        if poorer:  # only then is the transaction traced
            flows.update(native_flows(ctx.trace, poorer))
        for (holder, token), outflow in flows.items():
            if outflow <= 0:
                continue
            start = (self._balance(ctx, token, holder) or 0) - before_tx.get((holder, token), 0)
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

    @staticmethod
    def _poorer(ctx: Context, holders: set[str]) -> set[str]:
        """Holders that may have lost native coin. A pending transaction comes with its trace, so all of them;
        for a mined one, those whose balance fell over the block: two cached reads, and a trace only then."""
        if ctx.pending:
            return holders
        return {h for h in holders if (ctx.native_balance(h, ctx.at) or 0) < (ctx.native_balance(h, ctx.before) or 0)}

    @staticmethod
    def _balance(ctx: Context, token: str, holder: str) -> int | None:
        """`holder`'s balance of `token` (or of the native coin) before the event's block."""
        if token == NATIVE:
            return ctx.native_balance(holder, ctx.before)
        return ctx.balance_of(token, holder, ctx.before)

    def _value(self, ctx: Context, token: str, amount: int) -> float | None:
        if token != NATIVE:
            return ctx.value(token, amount)
        proxy = ctx.registry.resolve(self.params["native_asset"])
        return ctx.value(proxy.address, amount) if proxy else None

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
        value = self._value(ctx, token, outflow)
        if value is not None and value < p["min_value"]:
            severity = Severity.LOW
        name = ctx.registry.get(holder).name
        watched_token = ctx.registry.get(token)
        token_name = "native coin" if token == NATIVE else watched_token.name if watched_token else token
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

    def _native_block(self, ctx: Context, holders: set[str]):
        """Native coin that left a holder over the block when no single transaction the rules saw explains it: a
        drain split over transactions, or one through contracts that reach the holder without any event."""
        for holder in self._poorer(ctx, holders):
            start = ctx.native_balance(holder, ctx.before) or 0
            outflow = start - (ctx.native_balance(holder, ctx.at) or 0)
            if start <= 0 or outflow / start < self.params["max_fraction"]:
                continue
            seen = set(ctx.txs) | {e.tx_hash for e in ctx.logs}
            singles = [native_flows(ctx.scope.trace(h), {holder}).get((holder, NATIVE), 0) for h in seen]
            if any(single / start >= self.params["max_fraction"] for single in singles):
                continue  # one transaction alone crossed the line: reported per transaction
            txs = max(1, sum(1 for single in singles if single > 0))
            finding = self._judge(ctx, holder, NATIVE, outflow, start, None, txs=txs)
            if finding is not None:
                yield finding
