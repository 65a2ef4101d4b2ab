"""price-manipulation: a watched AMM price pushed past a threshold and back (inside one tx, or sandwich-shaped
across one block), a protocol consuming a price far from its reference, or a TWAP pushed over several blocks."""

from __future__ import annotations

from watchdog.detect import Context, Rule, Severity, Trigger, topic
from watchdog.detect.stats import values

SYNC = topic("Sync(uint112,uint112)")


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
    }
    triggers = frozenset({Trigger.TX, Trigger.PENDING, Trigger.BLOCK})
    events = ("Sync(uint112 reserve0, uint112 reserve1)",)

    def evaluate(self, ctx: Context):
        if ctx.trigger is Trigger.BLOCK:
            yield from self._sandwich(ctx)
            yield from self._twap_push(ctx)
            return
        yield from self._round_trip(ctx)
        yield from self._consumed(ctx)

    # -- within one transaction ----------------------------------------------------------------------
    def _round_trip(self, ctx: Context):
        p = self.params
        for pair in ctx.registry.role("amm_pair"):
            path = [_price(e) for e in ctx.tx_logs() if e.address == pair.address and e.topics and e.topics[0] == SYNC]
            if not path:
                continue
            start = self._price_before_tx(ctx, pair.address)
            if not start:
                continue
            peak = max(path, key=lambda x: abs(x / start - 1))
            peak_move, end_move = peak / start - 1, path[-1] / start - 1
            if abs(peak_move) < p["move_threshold"] or abs(end_move) > abs(peak_move) * p["return_ratio"]:
                continue
            core = ctx.registry.core_touched(ctx.touched())  # traced only once a round trip is seen
            severity = Severity.HIGH if core else Severity.MEDIUM
            if core and abs(peak_move) >= 4 * p["move_threshold"]:
                severity = Severity.CRITICAL
            yield ctx.finding(
                title=f"{pair.name} price pushed {peak_move:+.1%} and back in one transaction",
                severity=severity,
                description=(f"Spot price of {pair.name} went from {start:.6g} to {peak:.6g} and back to {path[-1]:.6g} "
                             f"inside {ctx.tx.hash}" + (f", which called {', '.join(w.name for w in core)}" if core else "") + "."),
                addresses=[ctx.tx.sender, pair.address, *(w.address for w in core)],
                evidence={"pair": pair.name, "price_before": start, "price_peak": peak, "price_after": path[-1],
                          "peak_move": peak_move, "end_move": end_move, "protocol_contracts": [w.name for w in core]},
                labels={"actor": ctx.tx.sender, "shape": "round-trip"}, key=f"round-trip:{pair.address}",
            )

    def _price_before_tx(self, ctx: Context, pair: str) -> float | None:
        """The pair's price right before this tx: its last Sync earlier in the block, else the reserves before."""
        if not ctx.pending and ctx.tx.index is not None:
            earlier = [e for e in ctx.block_logs if e.address == pair and e.topics and e.topics[0] == SYNC
                       and e.tx_index < ctx.tx.index]
            if earlier:
                return _price(max(earlier, key=lambda e: e.log_index))
        reserves = ctx.read(pair, "getReserves()(uint112,uint112,uint32)", (), ctx.before)
        return reserves[1] / reserves[0] if reserves and reserves[0] else None

    def _consumed(self, ctx: Context):
        """Prices the protocol read through its oracle adapter during the tx, against their reference."""
        adapters = {w.address: w for w in ctx.registry.role("oracle_adapter")}
        if not adapters or not (ctx.pending or ctx.core_in_logs(ctx.tx_logs())):
            return  # a price matters once the protocol acted on it (its logs, its token flows), or for a pending tx
        trace = ctx.trace
        if trace is None:
            return
        seen: set[tuple[str, str]] = set()
        for frame in trace.walk():
            adapter = adapters.get(frame.to or "")
            if adapter is None or frame.error or not frame.output or len(frame.output) < 66 or (frame.to, frame.input) in seen:
                continue
            seen.add((frame.to, frame.input))
            consumed = int(frame.output[2:66], 16) / 10 ** int(adapter.extra.get("decimals", 18))
            source = ctx.registry.resolve(adapter.extra.get("reference"))
            if source is not None:
                asset = ctx.registry.resolve(adapter.extra.get("asset"))
                reference = ctx.source_price(source, asset.address if asset else None, ctx.before)
                limit, basis = self.params["consumed_deviation"], source.name
            else:
                before = ctx.scope.reader.call(frame.to, frame.input, ctx.before) if not ctx.pending else None
                reference = int(before[2:66], 16) / 10 ** int(adapter.extra.get("decimals", 18)) if before and len(before) >= 66 else None
                limit, basis = self.params["consumed_jump"], "the same read before the block"
            if not reference or not consumed:
                continue
            deviation = consumed / reference - 1
            if abs(deviation) < limit:
                continue
            yield ctx.finding(
                title=f"{adapter.name} returned a price {deviation:+.1%} off its reference",
                severity=Severity.HIGH,
                description=f"During {ctx.tx.hash} the protocol read {consumed:.6g} from {adapter.name}; {basis} says {reference:.6g}.",
                addresses=[ctx.tx.sender, adapter.address],
                evidence={"adapter": adapter.name, "consumed_price": consumed, "reference_price": reference,
                          "reference": basis, "deviation": deviation},
                labels={"actor": ctx.tx.sender, "shape": "consumed-deviation"}, key=f"consumed:{adapter.address}",
            )

    # -- across a block ------------------------------------------------------------------------------
    def _sandwich(self, ctx: Context):
        p = self.params
        for pair in ctx.registry.role("amm_pair"):
            syncs = sorted((e for e in ctx.logs if e.address == pair.address and e.topics and e.topics[0] == SYNC),
                           key=lambda e: (e.tx_index, e.log_index))
            ends: dict[int, float] = {}
            for e in syncs:
                ends[e.tx_index] = _price(e)  # the price each tx left behind
            if len(ends) < 3:
                continue
            reserves = ctx.read(pair.address, "getReserves()(uint112,uint112,uint32)", (), ctx.before)
            if not reserves or not reserves[0]:
                continue
            start, path = reserves[1] / reserves[0], list(ends.values())
            peak = max(path, key=lambda x: abs(x / start - 1))
            peak_move, end_move = peak / start - 1, path[-1] / start - 1
            if abs(peak_move) < p["move_threshold"] or abs(end_move) > abs(peak_move) * p["return_ratio"] or peak == path[-1]:
                continue
            yield ctx.finding(
                title=f"{pair.name} price pushed {peak_move:+.1%} and back within one block (sandwich shape)",
                severity=Severity.MEDIUM,
                description=f"{len(ends)} transactions moved {pair.name} from {start:.6g} to {peak:.6g} and back to {path[-1]:.6g}.",
                addresses=[pair.address],
                evidence={"pair": pair.name, "price_before": start, "price_peak": peak, "price_after": path[-1],
                          "peak_move": peak_move, "txs": sorted({e.tx_hash for e in syncs})},
                labels={"shape": "sandwich"}, key=f"sandwich:{pair.address}",
            )

    def _twap_push(self, ctx: Context):
        p = self.params
        for pair in ctx.registry.role("amm_pair"):
            syncs = [e for e in ctx.logs if e.address == pair.address and e.topics and e.topics[0] == SYNC]
            if not syncs:
                continue
            key = f"blocks:{pair.address}"
            stored = ctx.state.get(key, [])
            if any(h[0] == ctx.block.number and h[1] == ctx.block.hash for h in stored):
                continue  # this block was counted already (a replay or a reprocessed block)
            history = [h for h in stored if h[0] < ctx.block.number]
            if not history or history[-1][0] != ctx.block.number - 1 or history[-1][1] not in ("", ctx.block.parent_hash):
                # a quiet block in between, or the last entry came from an orphaned block: start from here
                reserves = ctx.read(pair.address, "getReserves()(uint112,uint112,uint32)", (), ctx.before)
                history = [[ctx.block.number - 1, "", "end", reserves[1] / reserves[0]]] if reserves and reserves[0] else []
            end = _price(max(syncs, key=lambda e: (e.tx_index, e.log_index)))
            history = (history + [[ctx.block.number, ctx.block.hash, "end", end]])[-(p["twap_blocks"] + 1):]
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
                title=f"{pair.name} price pushed {total:+.1%} over {len(steps)} consecutive blocks",
                severity=Severity.HIGH if twaps else Severity.MEDIUM,
                description=(f"Each of the last {len(steps)} blocks moved {pair.name} the same way ({total:+.1%} in all)"
                             + (f"; {', '.join(w.name for w in twaps)} averages this pool." if twaps else ".")),
                addresses=[pair.address, *(w.address for w in twaps)],
                evidence={"pair": pair.name, "blocks": [h[0] for h in history], "prices": prices, "total_move": total},
                labels={"shape": "twap-push"}, key=f"twap:{pair.address}",
            )


def _price(entry) -> float:
    r0, r1 = int(entry.data[2:66], 16), int(entry.data[66:130], 16)
    return r1 / r0 if r0 else 0.0
