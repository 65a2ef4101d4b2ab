"""oracle-health: Chainlink-style feeds that are stale beyond their heartbeat (checked on a schedule, and in every
block where the protocol acts, when a stale price may just have been consumed), answer <= 0, report an
incomplete round, jump or move abruptly, cannot be read, or diverge from another source for the same asset
(another feed, a watched AMM pool, or the same feed on another network).

Without manifest hints the protocol model supplies both: a feed's heartbeat learned from its own rounds, and the
other sources of its asset. A stale feed is alarming when its asset moved elsewhere meanwhile (its price is wrong,
and usable); late with the market flat it is a liveness problem, reported at medium."""

from __future__ import annotations

from watchdog.detect import Check, Context, Rule, Severity
from watchdog.detect.model.prices import outlier, peers, read_prices
from watchdog.detect.reads import FeedRound
from watchdog.detect.registry import Watched


class OracleHealth(Rule):
    id = "oracle-health"
    title = "Oracle feed unhealthy"
    severity = Severity.HIGH
    confidence = 0.9
    description = ("A watched price feed is stale beyond its heartbeat, answers <= 0, reports answeredInRound < "
                   "roundId, jumps abruptly, cannot be read, or diverges from another source for the same asset.")
    references = ("Published oracle-monitoring heuristics: answer <= 0; >= 25 % abrupt change; >= 10 % "
                  "discrepancy with a reference source",)
    params = {
        "heartbeat": 3600,          # seconds, when the manifest has no `heartbeat` and none was learned yet
        "grace": 0.1,               # tolerated lateness as a share of the heartbeat
        "stale_move": 0.05,         # a stale feed this far off any other source of its asset is alarming
        "notable_move": 0.10,       # a move this large is reported as information
        "jump_threshold": 0.25,     # a move this large between two answers is alarming
        "divergence": 0.10,         # vs another source: reported
        "divergence_high": 0.30,    # vs another source: alarming
        "remote_feeds": {},         # feed name -> {"rpc": url, "address": feed on the other network}
        "cooldown": 600,            # seconds before the same check on the same feed is reported again
    }
    checks = {
        "stale": Check("Feed stale beyond its heartbeat", Severity.HIGH, ("heartbeat", "grace", "stale_move"),
                       "No new answer for longer than the heartbeat (the manifest's, else the one learned from the "
                       "feed's rounds, else the parameter) plus the grace; checked on the schedule, in every block "
                       "where the protocol acts and where another source of the asset moves. Medium when every other "
                       "source of its asset says the answer is still within stale_move."),
        "non-positive": Check("Feed answer not positive", Severity.CRITICAL, (), "The latest answer is <= 0."),
        "incomplete-round": Check("Feed answer from an incomplete round", Severity.HIGH, (),
                                  "answeredInRound < roundId: the answer was carried over from an older round."),
        "jump": Check("Feed answer jumped", Severity.HIGH, ("jump_threshold",),
                      "One update moved the answer by at least jump_threshold."),
        "move": Check("Feed answer moved", Severity.LOW, ("notable_move",),
                      "One update moved the answer by at least notable_move (information), short of a jump."),
        "divergence": Check("Feed diverges from another source", Severity.MEDIUM,
                            ("divergence", "divergence_high", "remote_feeds"),
                            "The answer is `divergence` or more away from a manifest `reference` or the same feed on "
                            "another network (`remote_feeds`); high from divergence_high."),
        "unreadable": Check("Feed unreadable", Severity.HIGH, (), "latestRoundData() reverted."),
    }
    # Rounds are emitted by a proxy's aggregator, an address the manifest does not name: wanted from any emitter.
    topics = ("AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)",)

    def on_schedule(self, ctx: Context):
        for feed in ctx.registry.role("oracle_feed"):
            yield from self._feed(ctx, feed, updated=False)

    def on_block(self, ctx: Context):
        emitters = ctx.feed_emitters()
        updated = {emitters[e.address].address for e in ctx.logs if e.address in emitters}
        acted = ctx.enabled("stale") and ctx.core_in_logs()
        model = ctx.model if ctx.enabled("stale") else None
        emitting = {e.address for e in ctx.logs}
        for feed in ctx.registry.role("oracle_feed"):
            source = model.sources.get(feed.address) if model else None
            market_moved = source is not None and any(p.address in emitting for p in peers(model, source))
            if feed.address in updated:
                yield from self._feed(ctx, feed, updated=True)
            elif acted or market_moved:  # a stale price may have been consumed just now, or just became wrong
                data = ctx.feed_round(feed.address)
                if data is not None:
                    yield from self._stale(ctx, feed, data)

    def _feed(self, ctx: Context, feed: Watched, updated: bool):
        """Every check of one feed's latest answer: a new answer is judged against the previous one, and a
        scheduled look against the heartbeat."""
        data = ctx.feed_round(feed.address)
        if data is None:
            yield self._report(ctx, feed, "unreadable", "latestRoundData() reverted", {})
            return
        facts = _facts(feed, data)
        if data.answer <= 0:
            yield self._report(ctx, feed, "non-positive", f"answer is {data.answer}", facts)
            return
        if data.answered_in_round < data.round_id:
            yield self._report(ctx, feed, "incomplete-round",
                               f"answeredInRound {data.answered_in_round} < roundId {data.round_id}", facts)
        yield from (self._jump(ctx, feed, data) if updated else self._stale(ctx, feed, data))
        if ctx.enabled("divergence"):
            yield from self._divergence(ctx, feed, data.price, facts)

    def _stale(self, ctx: Context, feed: Watched, data: FeedRound):
        p = ctx.params_of("stale")
        heartbeat, basis = self._heartbeat(ctx, feed, p["heartbeat"])
        age = ctx.now - data.updated_at
        if age <= heartbeat * (1 + p["grace"]):
            return
        facts = {**_facts(feed, data), "age": age, "heartbeat": heartbeat, "heartbeat_from": basis}
        what = f"last update {age}s ago, heartbeat {heartbeat}s ({basis})"
        market = self._market(ctx, feed, data.price)
        if not market:
            yield self._report(ctx, feed, "stale", what, facts)  # nothing to compare with: assume the worst
            return
        name, price = max(market.items(), key=lambda item: abs(data.price / item[1] - 1))
        gap = data.price / price - 1
        facts = {**facts, "market_price": price, "gap": gap, "witness": name, "market": market}
        if abs(gap) >= p["stale_move"]:  # one venue where its asset moved is enough: the stale price is usable
            yield self._report(ctx, feed, "stale", f"{what}; meanwhile {name} says {price:.6g} ({gap:+.1%})", facts,
                               key="moved")
        else:
            yield self._report(ctx, feed, "stale", f"{what}; every other source of its asset agrees with it "
                               f"(within {abs(gap):.1%})", facts, severity=Severity.MEDIUM)

    @staticmethod
    def _heartbeat(ctx: Context, feed: Watched, default: int) -> tuple[int, str]:
        if "heartbeat" in feed.extra:
            return int(feed.extra["heartbeat"]), "manifest"
        model = ctx.model
        learned = model.sources.get(feed.address) if model else None
        if learned is not None and learned.heartbeat:
            return int(learned.heartbeat), "learned from its rounds"
        return int(default), "default"

    @staticmethod
    def _market(ctx: Context, feed: Watched, price: float) -> dict[str, float]:
        """What each other source the model knows for the feed's asset says now, by name (TWAPs and adapters over
        it excluded)."""
        model = ctx.model
        source = model.sources.get(feed.address) if model else None
        others = peers(model, source) if source is not None else []
        prices = read_prices(model, ctx.scope.reads, ctx.at, {feed.address}) if others else {}
        return {p.name: prices[p.address] for p in others if prices.get(p.address)}

    @staticmethod
    def _off_market(ctx: Context, feed: Watched):
        """The feed against the other sources of its asset now (None when the model knows none)."""
        model = ctx.model
        source = model.sources.get(feed.address) if model else None
        if source is None or not peers(model, source):
            return None
        return outlier(model, source, read_prices(model, ctx.scope.reads, ctx.at, {feed.address}))

    def _jump(self, ctx: Context, feed: Watched, data: FeedRound):
        if not ctx.enabled("jump", "move"):
            return
        before = ctx.feed_price(feed.address, ctx.before)
        if not before:
            return
        move = data.price / before - 1
        facts = {**_facts(feed, data), "price_before": before, "price_after": data.price, "move": move}
        if ctx.enabled("jump") and abs(move) >= ctx.params_of("jump")["jump_threshold"]:
            yield self._report(ctx, feed, "jump", f"answer moved {move:+.1%} in one update", facts)
        elif abs(move) >= ctx.params_of("move")["notable_move"]:
            yield self._report(ctx, feed, "move", f"answer moved {move:+.1%}", facts)

    def _divergence(self, ctx: Context, feed: Watched, price: float, facts: dict):
        p = ctx.params_of("divergence")
        for name, other in self._references(ctx, feed, p["remote_feeds"]):
            if not other:
                continue
            gap = price / other - 1
            if abs(gap) < p["divergence"]:
                continue
            yield self._report(ctx, feed, "divergence", f"{gap:+.1%} away from {name} ({other:.6g})",
                               {**facts, "reference": name, "reference_price": other, "divergence": gap},
                               severity=Severity.HIGH if abs(gap) >= p["divergence_high"] else Severity.MEDIUM,
                               key=name)

    @staticmethod
    def _references(ctx: Context, feed: Watched, remote_feeds: dict) -> list[tuple[str, float | None]]:
        """(name, price) of every other source for the feed's asset: manifest references (else the median of the
        sources the model knows for it), the remote twin."""
        refs = feed.extra.get("reference") or []
        asset = ctx.registry.resolve(str(feed.extra.get("asset", "")))
        out = []
        for ref in [refs] if isinstance(refs, str) else refs:
            other = ctx.registry.resolve(ref)
            if other is not None:
                out.append((other.name, ctx.source_price(other, asset.address if asset else None)))
        if not refs:
            off = OracleHealth._off_market(ctx, feed)
            if off is not None:
                name = off.witnesses[0] if len(off.witnesses) == 1 else f"the median of {', '.join(off.witnesses)} and it"
                out.append((name, off.reference))
        remote = remote_feeds.get(feed.name)
        if remote:  # the same asset's feed on another network, at its latest block
            out.append((f"{feed.name}@{remote['rpc']}", ctx.remote(remote["rpc"]).feed_price(remote["address"])))
        return out

    @staticmethod
    def _report(ctx: Context, feed: Watched, check: str, what: str, facts: dict,
                severity: Severity | None = None, key: str = ""):
        return ctx.finding(
            check=check, title=f"{feed.name}: {check.replace('-', ' ')}", severity=severity,
            description=f"Feed {feed.name} ({feed.address}): {what}.", addresses=[feed.address],
            evidence={"feed": feed.name, **facts}, key=f"{feed.address}:{key}" if key else feed.address,
        )


def _facts(feed: Watched, data: FeedRound) -> dict:
    return {"feed": feed.name, "round_id": data.round_id, "answer": data.price, "updated_at": data.updated_at}
