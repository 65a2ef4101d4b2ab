"""oracle-health: Chainlink-style feeds that are stale beyond their heartbeat (checked on a schedule, and in every
block where the protocol acts, when a stale price may just have been consumed), answer
<= 0, report an incomplete round, jump abruptly, or diverge from another source for the same asset (another
feed, a watched AMM pool, or the same feed on another network)."""

from __future__ import annotations

from watchdog.chain.rpc import RpcClient
from watchdog.detect import Context, Rule, Severity, Trigger
from watchdog.detect.abi import decode_result, encode_call

ROUND = "latestRoundData()(uint80,int256,uint256,uint256,uint80)"


class OracleHealth(Rule):
    id = "oracle-health"
    title = "Oracle feed unhealthy"
    severity = Severity.HIGH
    confidence = 0.9
    description = ("A watched price feed is stale beyond its heartbeat, answers <= 0, reports answeredInRound < "
                   "roundId, jumps abruptly, or diverges from another source for the same asset.")
    references = ("Published oracle-monitoring heuristics: answer <= 0; >= 25 % abrupt change; >= 10 % "
                  "discrepancy with a reference source",)
    params = {
        "heartbeat": 3600,          # seconds, when the manifest entry has no `heartbeat`
        "grace": 0.1,               # tolerated lateness as a share of the heartbeat
        "notable_move": 0.10,       # a move this large is reported as information
        "jump_threshold": 0.25,     # a move this large between two answers is alarming
        "divergence": 0.10,         # vs another source: reported
        "divergence_high": 0.30,    # vs another source: alarming
        "remote_feeds": {},         # feed name -> {"rpc": url, "address": feed on the other network}
        "cooldown": 600,            # seconds before the same check on the same feed is reported again
    }
    triggers = frozenset({Trigger.BLOCK, Trigger.SCHEDULE})
    events = ("AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)",)

    def __init__(self, params=None) -> None:
        super().__init__(params)
        self._remote: dict[str, RpcClient] = {}

    def evaluate(self, ctx: Context):
        if ctx.trigger is Trigger.SCHEDULE:
            feeds = ctx.registry.role("oracle_feed")
        else:
            updated = {e.address for e in ctx.logs}
            feeds = [f for f in ctx.registry.role("oracle_feed") if f.address in updated]
            if ctx.core_in_logs():
                # the protocol acted in this block: a stale price may have been consumed just now
                for feed in ctx.registry.role("oracle_feed"):
                    if feed.address not in updated:
                        yield from self._stale(ctx, feed)
        for feed in feeds:
            data = ctx.read(feed.address, ROUND)
            if data is None:
                yield self._report(ctx, feed, "unreadable", Severity.HIGH, "latestRoundData() reverted", {})
                continue
            round_id, answer, _, updated_at, answered_in = data
            scale = 10 ** self._decimals(ctx, feed.address)
            facts = {"feed": feed.name, "round_id": round_id, "answer": answer / scale, "updated_at": updated_at}
            if answer <= 0:
                yield self._report(ctx, feed, "non-positive", Severity.CRITICAL, f"answer is {answer}", facts)
                continue
            if answered_in < round_id:
                yield self._report(ctx, feed, "incomplete-round", Severity.HIGH,
                                   f"answeredInRound {answered_in} < roundId {round_id}", facts)
            if ctx.trigger is Trigger.SCHEDULE:
                yield from self._stale(ctx, feed)
            else:
                yield from self._jump(ctx, feed, answer / scale, facts)
            yield from self._divergence(ctx, feed, answer / scale, facts)

    def _stale(self, ctx: Context, feed):
        data = ctx.read(feed.address, ROUND)
        if data is None:
            return
        heartbeat = int(feed.extra.get("heartbeat", self.params["heartbeat"]))
        age = ctx.now - data[3]
        if age > heartbeat * (1 + self.params["grace"]):
            facts = {"feed": feed.name, "round_id": data[0], "answer": data[1] / 10 ** self._decimals(ctx, feed.address),
                     "updated_at": data[3], "age": age, "heartbeat": heartbeat}
            yield self._report(ctx, feed, "stale", Severity.HIGH, f"last update {age}s ago, heartbeat {heartbeat}s", facts)

    def _jump(self, ctx: Context, feed, price: float, facts: dict):
        before = ctx.feed_price(feed.address, ctx.before)
        if not before:
            return
        move = price / before - 1
        if abs(move) >= self.params["jump_threshold"]:
            yield self._report(ctx, feed, "jump", Severity.HIGH, f"answer moved {move:+.1%} in one update",
                               {**facts, "price_before": before, "price_after": price, "move": move})
        elif abs(move) >= self.params["notable_move"]:
            yield self._report(ctx, feed, "move", Severity.LOW, f"answer moved {move:+.1%}",
                               {**facts, "price_before": before, "price_after": price, "move": move})

    def _divergence(self, ctx: Context, feed, price: float, facts: dict):
        for name, other in self._references(ctx, feed):
            if not other:
                continue
            gap = price / other - 1
            if abs(gap) < self.params["divergence"]:
                continue
            severity = Severity.HIGH if abs(gap) >= self.params["divergence_high"] else Severity.MEDIUM
            yield self._report(ctx, feed, f"divergence:{name}", severity, f"{gap:+.1%} away from {name} ({other:.6g})",
                               {**facts, "reference": name, "reference_price": other, "divergence": gap})

    def _references(self, ctx: Context, feed) -> list[tuple[str, float | None]]:
        refs = feed.extra.get("reference") or []
        out = []
        asset = ctx.registry.resolve(str(feed.extra.get("asset", "")))
        for ref in [refs] if isinstance(refs, str) else refs:
            other = ctx.registry.resolve(ref)
            if other is not None:
                out.append((other.name, ctx.source_price(other, asset.address if asset else None)))
        remote = self.params["remote_feeds"].get(feed.name)
        if remote:
            out.append((f"{feed.name}@{remote['rpc']}", self._remote_price(remote)))
        return out

    def _remote_price(self, remote: dict) -> float | None:
        """The same asset's feed on another network (interoperability check), read at its latest block."""
        client = self._remote.setdefault(remote["rpc"], RpcClient(remote["rpc"], retries=1))
        try:
            data = decode_result(ROUND, client.call("eth_call", [{"to": remote["address"], "data": encode_call(ROUND)}, "latest"]))
            dec = decode_result("decimals()(uint8)", client.call("eth_call", [{"to": remote["address"], "data": encode_call("decimals()(uint8)")}, "latest"]))
        except Exception:
            return None
        return data[1] / 10 ** dec[0] if data[1] > 0 else None

    @staticmethod
    def _decimals(ctx: Context, feed: str) -> int:
        out = ctx.read(feed, "decimals()(uint8)", (), "latest")
        return int(out[0]) if out else 8

    def _report(self, ctx: Context, feed, check: str, severity: Severity, what: str, facts: dict):
        return ctx.finding(
            title=f"{feed.name}: {check.split(':')[0].replace('-', ' ')}",
            severity=severity, description=f"Feed {feed.name} ({feed.address}): {what}.",
            addresses=[feed.address], evidence={"check": check, **facts}, key=f"{feed.address}:{check}",
        )
