"""bridge-flows: cross-chain message flows of a token bridge, checked on the network that receives them.

Routes come from the manifest: an endpoint's `bridge` hint names the endpoint on another chain it accepts messages
from (`peer_chain_id`, `peer`) and the local token it carries (`token`); a wrapped token names where it comes from
(`bridged_from`: `chain_id`, `token`); a relayed feed names its source (`source`: `chain_id`, `feed`); a market may
name the tokens it takes as `collateral`. The other chain is read through the context (`ctx.chain(chain_id)`), which
knows the networks the daemon follows.

In every block, for each route:
- the sends of the peer towards this chain (its `MessageSent` logs) become pending messages;
- each delivery here (`MessageDelivered`: a mint or a release) must match a send there (id, amount, recipient,
  nonce), and each nonce of a route is delivered once (a replay through a second endpoint shows as a nonce
  delivered twice);
- a pending message older than the route's deadline is overdue: the relayer is stuck. The deadline is learned from
  the route's own latencies (chain time from the send's block to the delivery's block) once `warmup` were seen;
and, in a block that mints or burns a wrapped token, its supply must not exceed what the escrows on its home chain
hold; a relayed feed must stay within `price_divergence` of its source.

Every finding names this network's endpoints of the route and the markets that take the route's token as
collateral (`addresses`), the peer endpoint on the other chain (`labels["targets"]`, by chain id) and the routes it
is about (`labels["routes"]`), so that a pause covers the route on both networks and one incident holds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Generator, Iterable

from watchdog.detect import Check, Context, Rule, Severity
from watchdog.detect.abi import EventSpec
from watchdog.detect.context import Event
from watchdog.detect.reads import ChainReads
from watchdog.detect.registry import FUND_ROLES, ProtocolRegistry, Watched
from watchdog.finding import Finding

log = logging.getLogger(__name__)

ZERO = "0x" + "00" * 20
REORG_MARGIN = 12      # blocks of the other chain read again on every poll: a reorg there is seen
LATENCIES_KEPT = 20    # the latest latencies of a route, what its deadline is learned from
DELIVERIES_KEPT = 64   # the latest deliveries of a route, to name the first one when a nonce comes back
UNKNOWN = object()     # the other chain could not be read: check again in a later block


@dataclass(frozen=True)
class Route:
    """Messages sent by `peer` on chain `peer_chain` to the endpoints `receivers` of this chain (`local_chain`)."""

    peer_chain: int
    peer: str
    receivers: tuple[Watched, ...]
    local_chain: int

    @property
    def key(self) -> str:
        return f"route:{self.peer_chain}:{self.peer}"

    def pair(self, receiver: Watched) -> str:
        """The route between two endpoints, named alike on both chains."""
        return "|".join(sorted((f"{self.peer_chain}:{self.peer}", f"{self.local_chain}:{receiver.address}")))

    def addresses(self) -> list[str]:
        return [r.address for r in self.receivers]


def routes(registry: ProtocolRegistry) -> list[Route]:
    """The routes into this chain, from the `bridge` hints of its endpoints (endpoints sharing a peer, one route)."""
    grouped: dict[tuple[int, str], list[Watched]] = {}
    everything = [w for a in registry.addresses() if (w := registry.get(a)) is not None]
    for watched in sorted(everything, key=lambda w: w.name):
        hint = watched.extra.get("bridge")
        if isinstance(hint, dict) and hint.get("peer_chain_id") is not None and hint.get("peer"):
            grouped.setdefault((int(hint["peer_chain_id"]), str(hint["peer"]).lower()), []).append(watched)
    local = registry.manifest.chain_id
    return [Route(chain, peer, tuple(receivers), local) for (chain, peer), receivers in sorted(grouped.items())]


def topics_for(spec: EventSpec, **values: Any) -> list[Any]:
    """An eth_getLogs topic filter for `spec` with some indexed arguments fixed (those not indexed are ignored)."""
    out: list[Any] = [spec.topic0]
    for name, kind, indexed in spec.inputs:
        if indexed:
            value = values.get(name)
            out.append(None if value is None else _topic(kind, value))
    while out[-1] is None:
        out.pop()
    return out


def _topic(kind: str, value: Any) -> str:
    if kind.startswith("bytes") and isinstance(value, str):
        return "0x" + value[2:].rjust(64, "0").lower()
    if kind == "address":
        return "0x" + value[2:].lower().rjust(64, "0")
    return f"0x{int(value):064x}"


def learned_deadline(latencies: list[int], params: dict[str, Any]) -> int:
    """Seconds a message may take on a route: `latency_factor` times its slowest recent delivery (never under
    `min_deadline`) once `warmup` deliveries were seen, `deadline` before."""
    if len(latencies) < params["warmup"]:
        return int(params["deadline"])
    return int(max(params["min_deadline"], params["latency_factor"] * max(latencies)))


class BridgeFlows(Rule):
    id = "bridge-flows"
    title = "Cross-chain flow broken"
    severity = Severity.HIGH
    confidence = 0.9
    description = ("Deliveries of a token bridge matched to their sends on the other chain, nonces delivered once, "
                   "relayer liveness against a deadline learned per route, the wrapped supply against the escrow, and "
                   "relayed prices against their source.")
    references = ("Bridge exploits by forged or replayed messages and compromised relayer keys; supply invariants "
                  "(locked >= minted) monitored per block",)
    params = {
        "deadline": 3600,          # seconds a message may wait before a route has learned its own latency
        "min_deadline": 60,        # a learned deadline is never shorter (a few blocks of slack on any chain)
        "latency_factor": 3.0,     # learned deadline = this times the slowest recent delivery
        "warmup": 3,               # deliveries before the deadline is learned
        "lookback_blocks": 100_000,  # how far back a delivery's send is looked for on the other chain
        "price_divergence": 0.10,  # a relayed price this far from its source
        "sent_event": ("MessageSent(bytes32 indexed id, uint256 indexed destinationChainId, uint64 indexed nonce, "
                       "address sender, address recipient, uint256 amount)"),
        "delivered_event": ("MessageDelivered(bytes32 indexed id, uint256 indexed originChainId, uint64 indexed nonce, "
                            "address sender, address recipient, uint256 amount)"),
    }
    _MATCHING = ("sent_event", "delivered_event", "lookback_blocks")
    checks = {
        "unmatched": Check("Bridge delivery without a matching send", Severity.CRITICAL, _MATCHING,
                           "A mint or release whose message (id, amount, recipient, nonce) was never sent by the peer "
                           "endpoint on the other chain: a forged message."),
        "replay": Check("Bridge message delivered twice", Severity.CRITICAL, _MATCHING,
                        "A route's nonce delivered a second time (by the same endpoint or another one of this chain)."),
        "out-of-order": Check("Bridge nonce skipped", Severity.LOW, _MATCHING,
                              "A delivery came before an earlier nonce of its route (information)."),
        "overdue": Check("Bridge message overdue: relayer stuck", Severity.HIGH,
                         ("deadline", "min_deadline", "latency_factor", "warmup", "sent_event", "delivered_event"),
                         "A message sent on the other chain was not delivered here within the route's deadline, "
                         "learned from its own latencies."),
        "supply": Check("Wrapped supply above the escrow", Severity.CRITICAL, (),
                        "A block minted or burned a wrapped token and its supply exceeds what the escrows on its home "
                        "chain hold."),
        "price": Check("Relayed price diverges from its source", Severity.HIGH, ("price_divergence",),
                       "A relayed feed's answer is `price_divergence` or more away from its source feed's on the other "
                       "chain."),
    }

    def __init__(self, params: dict[str, Any] | None = None, checks: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__(params, checks)
        self.sent = EventSpec.parse(self.params["sent_event"])
        self.delivered = EventSpec.parse(self.params["delivered_event"])
        self._unread: set[int] = set()  # chains said once to be unreadable

    # -- triggers ------------------------------------------------------------------------------------
    def on_block(self, ctx: Context) -> Iterable[Finding]:
        for route in routes(ctx.registry):
            yield from self._route(ctx, route)
        if ctx.enabled("supply"):
            yield from self._supply(ctx)
        if ctx.enabled("price"):
            updated = {entry.address for entry in ctx.logs}
            yield from self._prices(ctx, lambda feed: feed.address in updated)

    def on_schedule(self, ctx: Context) -> Iterable[Finding]:
        # Only prices here: pending messages are judged against the blocks processed, never ahead of them.
        if ctx.enabled("price"):
            yield from self._prices(ctx, lambda feed: True)

    # -- messages ------------------------------------------------------------------------------------
    def _other(self, ctx: Context, chain_id: int) -> ChainReads | None:
        reads = ctx.chain(chain_id)
        if reads is None and chain_id not in self._unread:
            self._unread.add(chain_id)
            log.warning("%s: bridge-flows cannot check routes from chain %s: the daemon follows no network with that "
                        "chain id (add it to [networks])", ctx.network, chain_id)
        return reads

    def _route(self, ctx: Context, route: Route) -> Iterable[Finding]:
        reads = self._other(ctx, route.peer_chain)
        if reads is None:
            return
        state = ctx.state.get(route.key, {})
        state.setdefault("pending", {})
        state.setdefault("unverified", [])
        head = reads.head()
        if head is not None:
            self._poll(ctx, route, reads, state, head)
        for item in list(state["unverified"]):
            state["unverified"].remove(item)
            yield from self._match(ctx, route, reads, state, head, item, retried=True)
        deliveries = [e for e in ctx.events(self.params["delivered_event"], route.addresses(), whole_block=True)
                      if e.args.get("originChainId") == route.peer_chain]
        for event in deliveries:
            yield from self._delivery(ctx, route, reads, state, head, event)
        if ctx.enabled("overdue"):
            yield from self._overdue(ctx, route, state)
        ctx.state.set(route.key, state)

    def _poll(self, ctx: Context, route: Route, reads: ChainReads, state: dict, head: int) -> None:
        """The peer's sends towards this chain since the last poll become pending messages."""
        start = state.get("from", head)  # the first poll starts at the head: earlier sends were not followed
        sends = reads.logs([route.peer], topics_for(self.sent, destinationChainId=route.local_chain), start, head)
        if sends is None:
            return
        for entry in sends:
            args = self.sent.decode(entry)
            if args is None or args.get("destinationChainId") != route.local_chain:
                continue
            if args["id"] in state["pending"] or _delivered(state, args["nonce"]):
                continue
            sent_at = reads.block_time(entry.block_number) if entry.block_number is not None else None
            state["pending"][args["id"]] = {
                "nonce": args["nonce"], "sender": args["sender"], "recipient": args["recipient"],
                "amount": str(args["amount"]), "block": entry.block_number, "tx": entry.tx_hash,
                "time": sent_at if sent_at is not None else ctx.now}
        state["from"] = max(start, head - REORG_MARGIN + 1)

    def _delivery(self, ctx: Context, route: Route, reads: ChainReads, state: dict, head: int | None,
                  event: Event) -> Iterable[Finding]:
        args = event.args
        item = {"id": args["id"], "nonce": args["nonce"], "sender": args["sender"], "recipient": args["recipient"],
                "amount": str(args["amount"]), "receiver": event.address, "tx": event.log.tx_hash,
                "block": event.log.block_number, "time": ctx.now}
        replayed = yield from self._nonce(ctx, route, state, item)
        yield from self._match(ctx, route, reads, state, head, item, learn=not replayed)
        recent = state.setdefault("recent", [])
        recent.append({k: item[k] for k in ("nonce", "id", "receiver", "tx", "block")})
        del recent[:-DELIVERIES_KEPT]

    def _nonce(self, ctx: Context, route: Route, state: dict, item: dict) -> Generator[Finding, None, bool]:
        """Each nonce of a route is delivered once; a skipped one is noted. True when this one is a replay."""
        nonce = item["nonce"]
        seen = state.setdefault("nonces", {"upto": nonce - 1, "above": []})  # first delivery seen: earlier ones done
        if _delivered(state, nonce):
            if ctx.enabled("replay"):
                first = next((d for d in state.get("recent", []) if d["nonce"] == nonce), None)
                receiver = ctx.registry.get(item["receiver"])
                where = f" (first in tx {first['tx']} by {_name(ctx, first['receiver'])})" if first else ""
                yield self._report(
                    ctx, route, "replay", item, [item["receiver"], item["recipient"]],
                    f"{_name(ctx, item['receiver'])} delivered nonce {nonce} of the route from chain {route.peer_chain} "
                    f"({route.peer}) again{where}: {item['amount']} to {item['recipient']}",
                    {"first_delivery": first}, receivers=[receiver] if receiver else route.receivers)
            return True
        if nonce > seen["upto"] + 1 and ctx.enabled("out-of-order"):
            yield self._report(ctx, route, "out-of-order", item, [item["receiver"]],
                               f"nonce {nonce} delivered before nonce {seen['upto'] + 1} on the route from chain "
                               f"{route.peer_chain}", {"expected_nonce": seen["upto"] + 1}, targets=False)
        seen["above"] = sorted(set(seen["above"]) | {nonce})
        while seen["above"] and seen["above"][0] <= seen["upto"] + 1:
            seen["upto"] = max(seen["upto"], seen["above"].pop(0))
        return False

    def _match(self, ctx: Context, route: Route, reads: ChainReads, state: dict, head: int | None, item: dict, *,
               learn: bool = True, retried: bool = False) -> Iterable[Finding]:
        """The delivery `item` against its send on the other chain (pending, else looked up by id there)."""
        sent = state["pending"].pop(item["id"], None) or self._lookup(reads, route, item["id"], head)
        if sent is UNKNOWN:
            state["unverified"].append(item)  # the other chain is unreadable now: judged in a later block
            return
        differs = [] if sent is None else [k for k in ("nonce", "recipient", "amount")
                                           if str(sent[k]).lower() != str(item[k]).lower()]
        if sent is not None and not differs:
            if learn and not retried and sent.get("time") is not None:
                latencies = state.setdefault("latencies", [])
                latencies.append(max(0, int(item["time"]) - int(sent["time"])))
                del latencies[:-LATENCIES_KEPT]
            return
        if not ctx.enabled("unmatched"):
            return
        if sent is None:
            what = f"no message {item['id']} was sent there by {route.peer}"
        else:
            what = "it was sent with " + ", ".join(f"{k} {sent[k]}" for k in differs)
        later = f" (checked at block {ctx.block.number if ctx.block else '?'}: chain {route.peer_chain} was unreadable " \
                f"at block {item['block']})" if retried else ""
        yield self._report(
            ctx, route, "unmatched", item, [item["receiver"], item["recipient"]],
            f"{_name(ctx, item['receiver'])} delivered {item['amount']} to {item['recipient']} (nonce {item['nonce']}) "
            f"from chain {route.peer_chain}, but {what}{later}", {"sent": sent},
            receivers=[r for r in route.receivers if r.address == item["receiver"]] or route.receivers)

    def _lookup(self, reads: ChainReads, route: Route, message_id: str, head: int | None) -> Any:
        """The send of `message_id` on the other chain, None when there is none, UNKNOWN when it cannot be read."""
        if head is None:
            return UNKNOWN
        found = reads.logs([route.peer], topics_for(self.sent, id=message_id),
                           max(0, head - int(self.params["lookback_blocks"])), head)
        if found is None:
            return UNKNOWN
        for entry in found:
            args = self.sent.decode(entry)
            if args is not None and args["id"] == message_id and args.get("destinationChainId") == route.local_chain:
                sent_at = reads.block_time(entry.block_number) if entry.block_number is not None else None
                return {"nonce": args["nonce"], "sender": args["sender"], "recipient": args["recipient"],
                        "amount": str(args["amount"]), "block": entry.block_number, "tx": entry.tx_hash, "time": sent_at}
        return None

    def _overdue(self, ctx: Context, route: Route, state: dict) -> Iterable[Finding]:
        """Pending messages older than the route's deadline (each reported once)."""
        params = ctx.params_of("overdue")
        deadline = learned_deadline(state.get("latencies", []), params)
        late = {k: m for k, m in state["pending"].items() if not m.get("flagged") and ctx.now - int(m["time"]) >= deadline}
        if not late:
            return
        for message in late.values():
            message["flagged"] = True
        oldest = min(late.values(), key=lambda m: int(m["time"]))
        learned = len(state.get("latencies", [])) >= params["warmup"]
        # the send does not say which endpoint here it is for: those the route delivers through, else all of them
        active = {d["receiver"] for d in state.get("recent", [])}
        receivers = [r for r in route.receivers if r.address in active] or list(route.receivers)
        yield self._report(
            ctx, route, "overdue", None, [r.address for r in receivers],
            f"{len(late)} message(s) from chain {route.peer_chain} ({route.peer}) not delivered within "
            f"{deadline} s ({'learned from the route' if learned else 'the default deadline'}); the oldest, nonce "
            f"{oldest['nonce']}, was sent {ctx.now - int(oldest['time'])} s ago in tx {oldest['tx']}",
            {"deadline_seconds": deadline, "deadline_learned": learned, "latencies": state.get("latencies", []),
             "oldest_age_seconds": ctx.now - int(oldest["time"]),
             "overdue": [{"id": k, **m} for k, m in late.items()], "pending": len(state["pending"])},
            receivers=receivers, key=f"{route.key}:{oldest['nonce']}")

    # -- supply --------------------------------------------------------------------------------------
    def _supply(self, ctx: Context) -> Iterable[Finding]:
        wrapped = [t for t in ctx.registry.role("token") if isinstance(t.extra.get("bridged_from"), dict)]
        if not wrapped:
            return
        minted = {t.token for t in ctx.transfers(whole_block=True) if ZERO in (t.sender, t.recipient)}
        all_routes = routes(ctx.registry)
        for token in wrapped:
            origin = token.extra["bridged_from"]
            if token.address not in minted:
                continue
            chain = int(origin["chain_id"])
            carrying = [(route, r) for route in all_routes if route.peer_chain == chain for r in route.receivers
                        if _token_of(ctx.registry, r) == token.address]
            reads = self._other(ctx, chain)
            if not carrying or reads is None:
                continue
            escrows = sorted({route.peer for route, _ in carrying})
            held = [reads.call(str(origin["token"]), "balanceOf(address)(uint256)", [e]) for e in escrows]
            supply = ctx.read(token.address, "totalSupply()(uint256)")
            if supply is None or any(h is None for h in held):
                continue
            escrowed = sum(h[0] for h in held)  # type: ignore[index]
            if supply[0] <= escrowed:
                continue
            # the endpoints that acted in this block are the route at fault; without one, every endpoint of the token
            acted = {entry.address for entry in ctx.logs}
            at_fault = [(route, r) for route, r in carrying if r.address in acted] or carrying
            receivers = [r for _, r in at_fault]
            pairs = sorted({route.pair(r) for route, r in at_fault})
            markets = self._markets(ctx, token.address, receivers)
            yield ctx.finding(
                check="supply", title=f"{token.name} supply above its escrow on chain {chain}",
                description=(f"{token.name} supply is {supply[0]} but the escrow(s) {', '.join(escrows)} on chain {chain} "
                             f"hold {escrowed} of {origin['token']}: {supply[0] - escrowed} unbacked"),
                addresses=[*(r.address for r in receivers), *markets, token.address],
                evidence={"token": token.name, "supply": str(supply[0]), "escrowed": str(escrowed),
                          "unbacked": str(supply[0] - escrowed), "home_chain": chain, "escrows": escrows},
                labels={"routes": pairs, "targets": {str(chain): sorted({route.peer for route, _ in at_fault})},
                        "stage": "exploitation"},
                key=token.address)

    # -- prices --------------------------------------------------------------------------------------
    def _prices(self, ctx: Context, wanted: Any) -> Iterable[Finding]:
        limit = ctx.params_of("price")["price_divergence"]
        for feed in ctx.registry.role("oracle_feed"):
            source = feed.extra.get("source")
            if not isinstance(source, dict) or not wanted(feed):
                continue
            reads = self._other(ctx, int(source["chain_id"]))
            relayed = ctx.feed_round(feed.address)
            origin = reads.feed_round(str(source["feed"])) if reads is not None else None
            if relayed is None or origin is None or origin.answer <= 0 or relayed.answer <= 0:
                continue
            gap = relayed.price / origin.price - 1
            flagged = ctx.state.get(f"price:{feed.address}")
            if abs(gap) < limit or flagged == relayed.round_id:
                continue
            ctx.state.set(f"price:{feed.address}", relayed.round_id)  # once per relayed round
            asset = ctx.registry.resolve(str(feed.extra.get("asset", "")))
            markets = self._markets(ctx, asset.address, []) if asset else []
            chain = int(source["chain_id"])
            yield ctx.finding(
                check="price", title=f"{feed.name} {gap:+.1%} away from its source on chain {chain}",
                description=(f"{feed.name} answers {relayed.price:.6g} (round {relayed.round_id}) but its source "
                             f"{source['feed']} on chain {chain} answers {origin.price:.6g}"),
                addresses=[feed.address, *markets],
                evidence={"feed": feed.name, "relayed": relayed.price, "relayed_round": relayed.round_id,
                          "source": origin.price, "source_round": origin.round_id, "divergence": gap},
                labels={"routes": ["|".join(sorted((f"{chain}:{str(source['feed']).lower()}",
                                                    f"{ctx.registry.manifest.chain_id}:{feed.address}")))],
                        "stage": "exploitation"},
                key=feed.address)

    # -- what a finding names ------------------------------------------------------------------------
    def _markets(self, ctx: Context, token: str, endpoints: list[Watched]) -> list[str]:
        """Pausable markets, vaults and lending pools of this chain that take `token` as collateral: named in their
        `collateral` hint, or holding some now."""
        skip = {e.address for e in endpoints}
        out = []
        for watched in ctx.registry.role(*FUND_ROLES):
            if watched.address in skip or watched.entry.pause is None or _is_endpoint(watched):
                continue
            named = watched.extra.get("collateral") or []
            if any((ref := ctx.registry.resolve(str(n))) is not None and ref.address == token for n in named):
                out.append(watched.address)
            elif (ctx.balance_of(token, watched.address) or 0) > 0:
                out.append(watched.address)
        return out

    def _report(self, ctx: Context, route: Route, check: str, item: dict | None, addresses: list[str], what: str,
                facts: dict, *, receivers: Iterable[Watched] | None = None, targets: bool = True,
                key: str = "") -> Finding:
        receivers = list(receivers or route.receivers)
        tokens = {t for t in (_token_of(ctx.registry, r) for r in receivers) if t}
        markets = [m for token in sorted(tokens) for m in self._markets(ctx, token, receivers)] if targets else []
        labels: dict[str, Any] = {"routes": sorted(route.pair(r) for r in receivers)}
        if targets:
            labels["targets"] = {str(route.peer_chain): [route.peer]}
        if check in ("unmatched", "replay"):
            labels["stage"] = "exploitation"
        finding = ctx.finding(
            check=check, description=f"{what}.", addresses=[*addresses, *markets],
            evidence={"origin_chain": route.peer_chain, "origin_endpoint": route.peer,
                      **({"delivery": item} if item else {}), **facts},
            labels=labels, key=key or (f"{route.key}:{item['id']}" if item else route.key))
        if item is not None:
            finding.tx_hash = item["tx"]  # a block-level check about one delivery: the finding names its transaction
        return finding


def _delivered(state: dict, nonce: int) -> bool:
    seen = state.get("nonces")
    return seen is not None and (nonce <= seen["upto"] or nonce in seen["above"])


def _token_of(registry: ProtocolRegistry, endpoint: Watched) -> str | None:
    hint = endpoint.extra.get("bridge") or {}
    token = registry.resolve(str(hint.get("token") or ""))
    return token.address if token else None


def _is_endpoint(watched: Watched) -> bool:
    return isinstance(watched.extra.get("bridge"), dict)


def _name(ctx: Context, address: str) -> str:
    watched = ctx.registry.get(address)
    return watched.name if watched else address
