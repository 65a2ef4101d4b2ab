"""price-manipulation: a watched AMM price pushed past a threshold and back (inside one tx, or sandwich-shaped
across one block), a protocol consuming a price far from its reference, a TWAP pushed over several blocks, and,
from the protocol model, a source a protocol consumes that stands off the other sources of its asset or was
pushed while nothing else moved (in the block of the push, or before a pending push lands)."""

from __future__ import annotations

from watchdog.detect import Check, Context, Rule, Severity
from watchdog.detect.model import ProtocolModel
from watchdog.detect.model.prices import corroborated, outlier, read_prices
from watchdog.detect.stats import values

SHAPE = ("move_threshold", "return_ratio")


def round_trip(start: float, path: list[float], move_threshold: float, return_ratio: float) -> tuple[float, float, float] | None:
    """(peak price, peak move, final move) when the price went `move_threshold` away from `start` and came back
    to within `return_ratio` of that move; None otherwise."""
    peak = max(path, key=lambda x: abs(x / start - 1))
    peak_move, end_move = peak / start - 1, path[-1] / start - 1
    if abs(peak_move) < move_threshold or abs(end_move) > abs(peak_move) * return_ratio:
        return None
    return peak, peak_move, end_move


class PriceManipulation(Rule):
    id = "price-manipulation"
    title = "AMM price manipulation"
    severity = Severity.HIGH
    confidence = 0.8
    description = ("A watched pool's price moved past a threshold and came back within a transaction or a block, "
                   "the protocol consumed a price that deviates from its reference, or a pool price was pushed "
                   "steadily over several blocks (TWAP manipulation).")
    references = ("Published price-manipulation heuristics: price change > 10 % between consecutive blocks; TWAP "
                  "window range > 200 bps",)
    params = {
        "move_threshold": 0.10,      # relative move of the spot price that counts as a push
        "return_ratio": 0.5,         # came back: the final move is at most this share of the peak move
        "consumed_deviation": 0.10,  # consumed price vs its reference feed
        "consumed_jump": 0.25,       # consumed price vs the same read before the block (no reference configured)
        "twap_threshold": 0.20,      # cumulative one-directional push over the window
        "twap_blocks": 3,            # consecutive pushing blocks
        "divergence": 0.25,          # a consumed source this far off its peers
        "push_threshold": 0.30,      # a consumed pool or feed moving this much in one block, alone
    }
    checks = {
        "round-trip": Check("Pool price pushed and back in one transaction", Severity.HIGH, SHAPE,
                            "A pool's price moved move_threshold or more and came back inside one transaction; "
                            "critical when the transaction also called the protocol and the push was 4x the threshold."),
        "sandwich": Check("Pool price pushed and back within one block", Severity.MEDIUM, SHAPE,
                          "Three or more transactions of one block moved a pool's price away and back (sandwich shape)."),
        "consumed-price": Check("Protocol consumed a deviating price", Severity.HIGH,
                                ("consumed_deviation", "consumed_jump"),
                                "A price the protocol read from its oracle adapter during a transaction is "
                                "consumed_deviation off the adapter's reference (or consumed_jump off the same read "
                                "before the block, without a reference)."),
        "twap-push": Check("Pool price pushed over consecutive blocks", Severity.MEDIUM,
                           ("twap_threshold", "twap_blocks"),
                           "twap_blocks consecutive blocks moved a pool's price the same way, twap_threshold in all; "
                           "high when a watched TWAP oracle averages that pool."),
        "source-outlier": Check("Consumed price source off its peers", Severity.HIGH, ("divergence",),
                                "In a block where a price moved, a source some protocol consumes (directly or through "
                                "an adapter or TWAP) is `divergence` or more off the other sources of its asset: the "
                                "median of three or more, the other one of two. Once per episode; on a pending "
                                "transaction that also calls a consumer, before it lands."),
        "source-push": Check("Consumed price source pushed alone", Severity.HIGH, ("push_threshold",),
                             "A pool or feed some protocol consumes moved push_threshold or more in one block (or one "
                             "pending transaction) while no other source of its asset moved half as much the same "
                             "way: flagged in the block of the push, before a TWAP catches up or anyone acts on it."),
    }
    needs = {"trace": "the prices the protocol read inside a transaction (consumed-price)"}
    events = ("Sync(uint112 reserve0, uint112 reserve1)",)

    def on_tx(self, ctx: Context):
        if ctx.enabled("round-trip"):
            yield from self._round_trip(ctx)
        if ctx.enabled("consumed-price"):
            yield from self._consumed(ctx)

    def on_pending(self, ctx: Context):
        yield from self.on_tx(ctx)
        if ctx.enabled("source-outlier", "source-push"):
            yield from self._pending_sources(ctx)

    def on_block(self, ctx: Context):
        if ctx.enabled("sandwich"):
            yield from self._sandwich(ctx)
        if ctx.enabled("twap-push"):
            yield from self._twap_push(ctx)
        if ctx.enabled("source-outlier", "source-push"):
            yield from self._block_sources(ctx)

    # -- consumed sources, from the protocol model ---------------------------------------------------------
    def _block_sources(self, ctx: Context):
        model = ctx.model
        if model is None:
            return
        consumed = model.consumed()
        moved = {e.address for e in ctx.logs} | {t.to for t in ctx.txs.values() if t.to}
        moved |= {ctx.feed_emitters()[a].address for a in list(moved) if a in ctx.feed_emitters()}
        relevant = {a for a in consumed if model.reads(a) & moved}
        relevant |= {read for change in ctx.source_changes if change.after for read in model.reads(change.after)}
        if not relevant:
            return  # nothing any protocol reads moved in this block
        before = read_prices(model, ctx.scope.reads, ctx.before, relevant)
        after = read_prices(model, ctx.scope.reads, ctx.at, relevant)
        yield from self._judge_sources(ctx, model, relevant, before, after)

    def _pending_sources(self, ctx: Context):
        """A pending transaction that moves a pool some protocol reads and calls one of its consumers."""
        model = ctx.model
        if model is None:
            return
        known = {}
        for address in model.consumed():
            source = model.sources.get(address)
            if source is not None and source.kind == "pair" and ctx.registry.get(address) is not None:
                path = ctx.price_path(address, source.base)
                if path:
                    known[address] = path.prices[-1]
        touched = ctx.touched() if known else set()
        relevant = {a for a in known if model.consumers(a) & touched}
        if not relevant:
            return
        before = read_prices(model, ctx.scope.reads, "latest", relevant)
        after = read_prices(model, ctx.scope.reads, "latest", relevant, known=known)
        yield from self._judge_sources(ctx, model, relevant, before, after)

    def _judge_sources(self, ctx: Context, model: ProtocolModel, relevant: set[str], before: dict[str, float],
                       after: dict[str, float]):
        limit = ctx.params_of("source-outlier")["divergence"]
        push = ctx.params_of("source-push")["push_threshold"]
        for address in sorted(relevant):
            source = model.sources[address]
            consumers = sorted(model.holders[h].name for h in model.consumers(address))
            actor = [ctx.tx.sender] if ctx.tx else []
            found = outlier(model, source, after)
            was = ctx.state.get(f"outlier:{address}", False) if not ctx.pending else False
            if found is not None and ctx.enabled("source-outlier") and abs(found.gap) >= limit and not was:
                yield ctx.finding(
                    check="source-outlier", title=f"{source.name} is {found.gap:+.0%} off the other sources of its asset",
                    description=f"{found.describe}; read by {', '.join(consumers)}.",
                    addresses=[address, *actor],
                    evidence={"source": source.name, "price": found.price, "reference": found.reference,
                              "gap": found.gap, "witnesses": found.witnesses, "consumers": consumers},
                    labels={"actor": ctx.tx.sender} if ctx.tx else {}, key=address,
                )
            if not ctx.pending and found is not None:
                if abs(found.gap) >= limit:
                    ctx.state.set(f"outlier:{address}", True)
                elif was and abs(found.gap) < limit / 2:
                    ctx.state.set(f"outlier:{address}", False)  # back in line: the next episode is news again
            if source.kind == "derived" or not ctx.enabled("source-push"):
                continue
            start, end = before.get(address), after.get(address)
            if not start or not end:
                continue
            move = end / start - 1
            if abs(move) < push or corroborated(model, source, before, after, move):
                continue
            yield ctx.finding(
                check="source-push", title=f"{source.name} pushed {move:+.0%} with no other source of its asset following",
                description=(f"{source.name} went from {start:.6g} to {end:.6g} "
                             + ("in this pending transaction" if ctx.pending else f"in block {ctx.block.number}")
                             + f"; nothing else that prices its asset moved half as much; read by {', '.join(consumers)}."),
                addresses=[address, *actor],
                evidence={"source": source.name, "price_before": start, "price_after": end, "move": move,
                          "consumers": consumers},
                labels={"actor": ctx.tx.sender} if ctx.tx else {}, key=address,
            )

    def needs_trace(self, ctx: Context) -> bool:
        # a round trip is weighed by whether the transaction called the protocol; consumed prices are in the trace
        return ((ctx.enabled("round-trip") and bool(self._round_trips(ctx)))
                or (ctx.enabled("consumed-price") and self._may_consume(ctx)))

    # -- within one transaction ----------------------------------------------------------------------
    @staticmethod
    def _round_trips(ctx: Context) -> list[tuple]:
        """(pair, start price, prices, shape) of each watched pool pushed and back inside the transaction."""
        p = ctx.params_of("round-trip")
        found = []
        for pair in ctx.registry.role("amm_pair"):
            path = ctx.price_path(pair.address)
            if not path or not path.before:
                continue
            shape = round_trip(path.before, path.prices, p["move_threshold"], p["return_ratio"])
            if shape is not None:
                found.append((pair, path.before, path.prices, shape))
        return found

    def _round_trip(self, ctx: Context):
        p = ctx.params_of("round-trip")
        for pair, start, prices, shape in self._round_trips(ctx):
            peak, peak_move, end_move = shape
            core = ctx.registry.core_touched(ctx.touched())  # traced only once a round trip is seen
            severity = Severity.HIGH if core else Severity.MEDIUM
            if core and abs(peak_move) >= 4 * p["move_threshold"]:
                severity = Severity.CRITICAL
            yield ctx.finding(
                check="round-trip", title=f"{pair.name} price pushed {peak_move:+.1%} and back in one transaction",
                severity=severity,
                description=(f"Spot price of {pair.name} went from {start:.6g} to {peak:.6g} and back to {prices[-1]:.6g} "
                             f"inside {ctx.tx.hash}" + (f", which called {', '.join(w.name for w in core)}" if core else "") + "."),
                addresses=[ctx.tx.sender, pair.address, *(w.address for w in core)],
                evidence={"pair": pair.name, "price_before": start, "price_peak": peak, "price_after": prices[-1],
                          "peak_move": peak_move, "end_move": end_move, "protocol_contracts": [w.name for w in core]},
                labels={"actor": ctx.tx.sender}, key=pair.address,
            )

    @staticmethod
    def _may_consume(ctx: Context) -> bool:
        """A price matters once the protocol acted on it (its logs, its token flows), or for a pending tx."""
        return bool(ctx.registry.role("oracle_adapter")) and bool(ctx.pending or ctx.core_in_logs(ctx.tx_logs()))

    def _consumed(self, ctx: Context):
        """Prices the protocol read through its oracle adapter during the tx, against their reference."""
        adapters = {w.address: w for w in ctx.registry.role("oracle_adapter")}
        if not self._may_consume(ctx):
            return
        p = ctx.params_of("consumed-price")
        seen: set[tuple[str, str]] = set()
        for frame in ctx.frames(to=adapters):
            if (frame.to, frame.input) in seen:
                continue
            seen.add((frame.to, frame.input))
            adapter = adapters[frame.to]
            scale = 10 ** int(adapter.extra.get("decimals", 18))
            out = ctx.returned(frame, "uint256")
            consumed = out[0] / scale if out else None
            source = ctx.registry.resolve(adapter.extra.get("reference"))
            if source is not None:
                asset = ctx.registry.resolve(adapter.extra.get("asset"))
                reference = ctx.source_price(source, asset.address if asset else None, ctx.before)
                limit, basis = p["consumed_deviation"], source.name
            else:
                earlier = ctx.call_at(frame, "uint256") if not ctx.pending else None
                reference = earlier[0] / scale if earlier else None
                limit, basis = p["consumed_jump"], "the same read before the block"
            if not reference or not consumed:
                continue
            deviation = consumed / reference - 1
            if abs(deviation) < limit:
                continue
            yield ctx.finding(
                check="consumed-price", title=f"{adapter.name} returned a price {deviation:+.1%} off its reference",
                description=f"During {ctx.tx.hash} the protocol read {consumed:.6g} from {adapter.name}; {basis} says {reference:.6g}.",
                addresses=[ctx.tx.sender, adapter.address],
                evidence={"adapter": adapter.name, "consumed_price": consumed, "reference_price": reference,
                          "reference": basis, "deviation": deviation},
                labels={"actor": ctx.tx.sender}, key=adapter.address,
            )

    # -- across a block ------------------------------------------------------------------------------
    def _sandwich(self, ctx: Context):
        p = ctx.params_of("sandwich")
        for pair in ctx.registry.role("amm_pair"):
            path = ctx.price_path(pair.address)
            ends = path.by_tx()  # the price each tx left behind
            if len(ends) < 3 or not path.before:
                continue
            start, prices = path.before, list(ends.values())
            shape = round_trip(start, prices, p["move_threshold"], p["return_ratio"])
            if shape is None or shape[0] == prices[-1]:
                continue
            peak, peak_move, _ = shape
            yield ctx.finding(
                check="sandwich", title=f"{pair.name} price pushed {peak_move:+.1%} and back within one block (sandwich shape)",
                description=f"{len(ends)} transactions moved {pair.name} from {start:.6g} to {peak:.6g} and back to {prices[-1]:.6g}.",
                addresses=[pair.address],
                evidence={"pair": pair.name, "price_before": start, "price_peak": peak, "price_after": prices[-1],
                          "peak_move": peak_move, "txs": sorted(ends)},
                key=pair.address,
            )

    def _twap_push(self, ctx: Context):
        p = ctx.params_of("twap-push")
        for pair in ctx.registry.role("amm_pair"):
            path = ctx.price_path(pair.address)
            if not path:
                continue
            key = f"blocks:{pair.address}"
            stored = ctx.state.get(key, [])
            if any(h[0] == ctx.block.number and h[1] == ctx.block.hash for h in stored):
                continue  # this block was counted already (a replay or a reprocessed block)
            history = [h for h in stored if h[0] < ctx.block.number]
            if not history or history[-1][0] != ctx.block.number - 1 or history[-1][1] not in ("", ctx.block.parent_hash):
                # a quiet block in between, or the last entry came from an orphaned block: start from here
                history = [[ctx.block.number - 1, "", "end", path.before]] if path.before else []
            history = (history + [[ctx.block.number, ctx.block.hash, "end", path.after]])[-(p["twap_blocks"] + 1):]
            ctx.state.set(key, history)
            prices = values(history)
            if len(prices) <= p["twap_blocks"]:
                continue
            steps = [b / a - 1 for a, b in zip(prices, prices[1:])]
            total = prices[-1] / prices[0] - 1
            one_way = all(s > 0 for s in steps) or all(s < 0 for s in steps)
            if not one_way or abs(total) < p["twap_threshold"]:
                continue
            twaps = [w for w in ctx.registry.role("twap_oracle") if ctx.registry.resolve(w.extra.get("pair")) == pair]
            yield ctx.finding(
                check="twap-push", title=f"{pair.name} price pushed {total:+.1%} over {len(steps)} consecutive blocks",
                severity=Severity.HIGH if twaps else Severity.MEDIUM,
                description=(f"Each of the last {len(steps)} blocks moved {pair.name} the same way ({total:+.1%} in all)"
                             + (f"; {', '.join(w.name for w in twaps)} averages this pool." if twaps else ".")),
                addresses=[pair.address, *(w.address for w in twaps)],
                evidence={"pair": pair.name, "blocks": [h[0] for h in history], "prices": prices, "total_move": total},
                key=pair.address,
            )
