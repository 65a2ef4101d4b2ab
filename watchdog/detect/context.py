"""What a rule sees when it runs: the event, the protocol registry, decoded events and calls, cached chain reads
and prices, reads of other networks, its own state, and its checks with their parameters."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from watchdog.chain.events import Block, CallFrame, ChainReader, Log, PendingTx, Tx
from watchdog.chain.rpc import RpcUnavailable
from watchdog.detect.abi import EventSpec, decode_input, decode_values, transfer_of
from watchdog.detect.reads import ChainReads, FeedRound
from watchdog.detect.registry import ProtocolRegistry, Watched
from watchdog.detect.rule import Rule, Trigger
from watchdog.detect.model.prices import honest_price, read_prices
from watchdog.detect.state import RuleStateView
from watchdog.finding import Finding, Severity

if TYPE_CHECKING:
    from watchdog.detect.model import ProtocolModel
    from watchdog.detect.clusters import AttackerClusters
    from watchdog.detect.model.keeper import ModelKeeper, SourceChange

log = logging.getLogger(__name__)

SYNC = "Sync(uint112 reserve0, uint112 reserve1)"


@dataclass(frozen=True, slots=True)
class Event:
    """A log decoded by the event a rule asked for (`args` by the names of that signature)."""

    name: str
    args: dict[str, Any]
    log: Log

    @property
    def address(self) -> str:
        return self.log.address


@dataclass(frozen=True, slots=True)
class Transfer:
    """An ERC-20 Transfer (read by position: tokens name the arguments differently)."""

    token: str
    sender: str
    recipient: str
    value: int
    log: Log


@dataclass(frozen=True, slots=True)
class Call:
    """A successful call frame of a trace and its decoded arguments."""

    frame: CallFrame
    args: tuple[Any, ...]


class PricePath:
    """A pool's spot price along a transaction or a block, from its Sync logs. `before` (the price when it
    began) costs a read, so it is asked only when a rule needs it."""

    def __init__(self, points: list[tuple[Event, float]], before: Callable[[], float | None]) -> None:
        self.points = points
        self._before = before

    @cached_property
    def before(self) -> float | None:
        return self._before()

    @property
    def prices(self) -> list[float]:
        return [price for _, price in self.points]

    @property
    def after(self) -> float | None:
        return self.points[-1][1] if self.points else self.before

    def by_tx(self) -> dict[str, float]:
        """The price each transaction left behind, in the order they ran."""
        return {event.log.tx_hash: price for event, price in self.points}

    def __bool__(self) -> bool:
        return bool(self.points)


@lru_cache(maxsize=256)
def event_spec(signature: str) -> EventSpec:
    return EventSpec.parse(signature)


def select_events(logs: Iterable[Log], event: str, emitter: str | Iterable[str] | None = None) -> list[Event]:
    """The logs of `event` among `logs`, in chain order. `event` is a signature (`Sync(uint112,uint112)`, or
    with names and `indexed` for named arguments): any log of that shape matches, whatever its emitter's ABI;
    or a bare name (`Upgraded`): logs the manifest ABIs decoded under that name."""
    wanted = _addresses(emitter)
    out: list[Event] = []
    spec = event_spec(event) if "(" in event else None
    for entry in logs:
        if wanted is not None and entry.address not in wanted:
            continue
        if spec is None:
            if entry.event == event:
                out.append(Event(event, entry.args or {}, entry))
        elif entry.topics and entry.topics[0] == spec.topic0:
            args = spec.decode(entry)
            if args is not None:
                out.append(Event(spec.name, args, entry))
    return sorted(out, key=lambda e: (e.log.tx_index, e.log.log_index))


def _addresses(which: str | Iterable[str] | None) -> set[str] | None:
    """One address or several as a lowercase set; None for any."""
    if which is None:
        return None
    return {which.lower()} if isinstance(which, str) else {a.lower() for a in which}


def transfers_in(logs: Iterable[Log]) -> list[Transfer]:
    return [Transfer(entry.address, *move, entry) for entry in logs if (move := transfer_of(entry))]


def successful_frames(trace: CallFrame | None) -> list[CallFrame]:
    """The frames of `trace` that took effect: a reverted frame undid everything under it."""
    frames, stack = [], [trace] if trace is not None else []
    while stack:
        frame = stack.pop()
        if frame.error:
            continue
        frames.append(frame)
        stack.extend(reversed(frame.calls))
    return frames


class Scope:
    """What every rule shares during one engine call (one block, one pending tx, one scheduled run): the
    reader, cached reads, traces and receipts, and readers of other networks."""

    def __init__(self, reader: ChainReader, registry: ProtocolRegistry, block: Block | None,
                 pending: PendingTx | None = None, block_logs: list[Log] | None = None,
                 txs: dict[str, Tx] | None = None, static: dict | None = None,
                 remote: Callable[[str], ChainReads] | None = None, chains: Mapping[int, str] | None = None,
                 model: ModelKeeper | None = None, clusters: AttackerClusters | None = None) -> None:
        self.reader, self.registry, self.block, self.pending = reader, registry, block, pending
        self.chains = dict(chains or {})  # chain id -> RPC URL of the other networks the daemon follows
        self.block_logs = block_logs or []
        self.txs = txs or {}
        self.reads = ChainReads(reader, static if static is not None else {}, known_decimals=self._manifest_decimals)
        self._remote_factory = remote
        self.keeper = model
        self.clusters = clusters
        self._remote: dict[str, ChainReads] = {}
        self._traces: dict[str, CallFrame | None] = {}
        self._tx_logs: dict[str, list[Log]] = {}

    def _manifest_decimals(self, address: str) -> int | None:
        watched = self.registry.get(address)
        return int(watched.extra["decimals"]) if watched and "decimals" in watched.extra else None

    def traces(self) -> list[CallFrame | None]:
        """The call traces fetched so far in this scope."""
        return list(self._traces.values())

    def trace(self, tx_hash: str) -> CallFrame | None:
        if self.pending is not None and self.pending.tx.hash == tx_hash:
            return self.pending.trace
        if tx_hash not in self._traces:
            self._traces[tx_hash] = self.reader.trace(tx_hash)
        return self._traces[tx_hash]

    def tx_logs(self, tx_hash: str) -> list[Log]:
        """Every log of a transaction (the bundle may carry only the watched ones), decoded when known."""
        if self.pending is not None and self.pending.tx.hash == tx_hash:
            # simulated logs come frame by frame; their index restores the order they were emitted in
            return sorted((self.registry.decoder.decode(x) for x in self.pending.logs), key=lambda x: x.log_index)
        if tx_hash not in self._tx_logs:
            receipt = self.reader.receipt(tx_hash) or {}
            self._tx_logs[tx_hash] = [self.registry.decoder.decode(_receipt_log(raw)) for raw in receipt.get("logs", [])]
        return self._tx_logs[tx_hash]

    def remote(self, rpc_url: str) -> ChainReads:
        """Reads of another network, through the reader the engine keeps for that endpoint."""
        if self._remote_factory is None:
            raise RuntimeError("this engine reads no other network")
        if rpc_url not in self._remote:
            self._remote[rpc_url] = self._remote_factory(rpc_url)
        return self._remote[rpc_url]

    def chain(self, chain_id: int) -> ChainReads | None:
        """Reads of the other network with this chain id, None when the daemon follows no such network."""
        url = self.chains.get(int(chain_id))
        return self.remote(url) if url is not None and self._remote_factory is not None else None


def _receipt_log(raw: dict[str, Any]) -> Log:
    return Log(
        address=raw["address"].lower(), topics=tuple(t.lower() for t in raw["topics"]), data=raw.get("data") or "0x",
        block_number=int(raw["blockNumber"], 16) if raw.get("blockNumber") else None,
        block_hash=raw.get("blockHash"), tx_hash=raw["transactionHash"].lower(),
        tx_index=int(raw.get("transactionIndex") or "0x0", 16), log_index=int(raw.get("logIndex") or "0x0", 16),
    )


class Context:
    """The argument of a rule's handlers. Block and schedule handlers see the block; tx and pending handlers
    one transaction (and the block it is in)."""

    def __init__(self, *, rule: Rule, trigger: Trigger, network: str, scope: Scope, state: RuleStateView,
                 tx: Tx | None = None, logs: list[Log] | None = None) -> None:
        self.rule, self.trigger, self.network, self.scope = rule, trigger, network, scope
        self.state, self.params = state, rule.params
        self.registry: ProtocolRegistry = scope.registry
        self.reader: ChainReader = scope.reader
        self.block: Block | None = scope.block
        self.tx = tx
        self.logs: list[Log] = logs if logs is not None else scope.block_logs
        self.pending = trigger is Trigger.PENDING

    # -- checks --------------------------------------------------------------------------------------
    def enabled(self, *checks: str) -> bool:
        """Whether any of `checks` is on: skip the work of checks the configuration turned off."""
        return any(self.rule.enabled(check) for check in checks)

    def params_of(self, check: str) -> dict[str, Any]:
        """The parameters `check` runs with (the rule's, overridden by `[rules."<id>.<check>"]`)."""
        return self.rule.params_for(check)

    # -- where state is read -------------------------------------------------------------------------
    @property
    def at(self) -> int | str:
        """Block tag of the state after the event (the block itself; latest for pending/scheduled)."""
        return self.block.number if (self.block and not self.pending) else "latest"

    @property
    def before(self) -> int | str:
        """Block tag of the state before the event's block (latest for a pending tx: it has not landed)."""
        return self.block.number - 1 if (self.block and not self.pending and self.block.number > 0) else "latest"

    @property
    def now(self) -> int:
        """Chain time: the block's timestamp (the latest block for pending and scheduled runs)."""
        return self.block.timestamp if self.block else 0

    @property
    def block_logs(self) -> list[Log]:
        return self.scope.block_logs

    @property
    def txs(self) -> dict[str, Tx]:
        return self.scope.txs

    # -- the transaction -----------------------------------------------------------------------------
    @property
    def trace(self) -> CallFrame | None:
        return self.scope.trace(self.tx.hash) if self.tx else None

    def tx_logs(self) -> list[Log]:
        return self.scope.tx_logs(self.tx.hash) if self.tx else self.logs

    def receipt(self) -> dict[str, Any]:
        return (self.reader.receipt(self.tx.hash) or {}) if self.tx else {}

    def touched(self) -> set[str]:
        """Every address the transaction called (trace) or that emitted one of its logs."""
        out: set[str] = set()
        if self.tx is not None:
            if self.tx.to:
                out.add(self.tx.to)
            trace = self.trace
            if trace is not None:
                out.update(f.to for f in trace.walk() if f.to)
        out.update(x.address for x in self.tx_logs())
        return out

    def core_in_logs(self, logs: Iterable[Log] | None = None) -> list[Watched]:
        """Core protocol contracts that emitted one of `logs` (default: the context's) or sent/received tokens."""
        logs = list(self.logs if logs is None else logs)
        actors = [entry.address for entry in logs]
        for move in transfers_in(logs):
            actors += [move.sender, move.recipient]
        return self.registry.core_touched(actors)

    # -- decoded events and calls --------------------------------------------------------------------
    def events(self, event: str, emitter: str | Iterable[str] | None = None, *, whole_block: bool = False) -> list[Event]:
        """Logs of `event` (a signature, or a name the manifest ABIs know), optionally of one emitter (or
        several), over the transaction's logs, or the block's (block and schedule handlers, `whole_block`)."""
        logs = self.block_logs if whole_block or self.tx is None else self.tx_logs()
        return select_events(logs, event, emitter)

    def transfers(self, *, whole_block: bool = False) -> list[Transfer]:
        """ERC-20 transfers of the transaction, or of the block (block handlers, `whole_block`)."""
        return transfers_in(self.block_logs if whole_block or self.tx is None else self.tx_logs())

    def frames(self, to: str | Iterable[str] | None = None, *, tx_hash: str | None = None) -> list[CallFrame]:
        """Frames of the transaction's trace (or of another transaction of the block) that took effect (a reverted
        frame undid everything under it), optionally only those calling `to` (an address or several)."""
        wanted = _addresses(to)
        trace = self.trace if tx_hash is None else self.scope.trace(tx_hash)
        return [f for f in successful_frames(trace) if wanted is None or f.to in wanted]

    def calls(self, signature: str, to: str | Iterable[str] | None = None) -> list[Call]:
        """Frames of the transaction's trace that called `signature` (`uniswapV2Call(address,uint256,uint256,bytes)`)
        and took effect, with their decoded arguments; optionally only calls to `to`."""
        found = ((frame, decode_input(signature, frame.input)) for frame in self.frames(to))
        return [Call(frame, args) for frame, args in found if args is not None]

    def calldata(self, signature: str, source: Tx | CallFrame | None = None) -> tuple[Any, ...] | None:
        """The arguments of the transaction (or of a trace frame) when it calls `signature`, else None."""
        source = source if source is not None else self.tx
        return decode_input(signature, source.input) if source is not None else None

    def returned(self, frame: CallFrame, types: str) -> tuple[Any, ...] | None:
        """What a frame returned, decoded as `types` (`uint256`, `uint80,int256`); None if it fails or does not fit."""
        return _decode_output(types, None if frame.error else frame.output)

    def call_at(self, frame: CallFrame, types: str, block: int | str | None = None) -> tuple[Any, ...] | None:
        """The same call as `frame` (its target and calldata) made at `block` (default: before the event)."""
        if not frame.to:
            return None
        return _decode_output(types, self.scope.reads.raw(frame.to, frame.input, self.before if block is None else block))

    # -- reads ---------------------------------------------------------------------------------------
    @property
    def model(self) -> "ProtocolModel | None":
        """The protocol model (watchdog.detect.model): what each protocol consumes, holds and owes; None when the
        engine keeps none (a bare test scope)."""
        return self.scope.keeper.current(self.scope) if self.scope.keeper is not None else None

    @property
    def cluster(self) -> dict[str, dict]:
        """The attacker clusters findings have named so far: address -> {"since": block, "why": rule id}."""
        return self.scope.clusters.members() if self.scope.clusters is not None else {}

    @property
    def source_changes(self) -> list["SourceChange"]:
        """The price sources holders read differently since their owners called them in this block."""
        return self.scope.keeper.changes if self.scope.keeper is not None and not self.pending else []

    def read(self, to: str, signature: str, args: Iterable[Any] = (), block: int | str | None = None) -> tuple[Any, ...] | None:
        """eth_call `to` with `signature` like `balanceOf(address)(uint256)`; decoded tuple, None on revert."""
        return self.scope.reads.call(to, signature, tuple(args), self.at if block is None else block)

    def read_static(self, to: str, signature: str) -> tuple[Any, ...] | None:
        """A read whose answer never changes (`decimals()(uint8)`), asked once for the engine's life."""
        return self.scope.reads.constant(to, signature)

    def balance_of(self, token: str, holder: str, block: int | str | None = None) -> int | None:
        out = self.read(token, "balanceOf(address)(uint256)", [holder], block)
        return out[0] if out else None

    def code(self, address: str, block: int | str | None = None) -> str:
        """The code at `address` ("0x" for an account)."""
        return self.scope.reader.code(address, self.at if block is None else block) or "0x"

    def native_balance(self, holder: str, block: int | str | None = None) -> int | None:
        """Wei of the chain's native coin held by `holder`; None when the node cannot say."""
        try:
            return self.reader.balance(holder, self.at if block is None else block)
        except RpcUnavailable:
            raise
        except Exception as exc:
            log.debug("balance of %s at %s failed: %s", holder, block, exc)
            return None

    def storage(self, address: str, slot: int, block: int | str | None = None) -> int | None:
        """A storage word of `address` as an integer; None when the node cannot say (no state for that block)."""
        try:
            return int(self.reader.storage_at(address, slot, self.at if block is None else block) or "0x0", 16)
        except RpcUnavailable:
            raise
        except Exception as exc:
            log.debug("storage %s[%s] at %s failed: %s", address, slot, block, exc)
            return None

    def decimals(self, token: str) -> int:
        """Decimals of a token (the manifest's `decimals` when given), 18 when unreadable."""
        return self.scope.reads.decimals(token)

    def remote(self, rpc_url: str) -> ChainReads:
        """Reads of another network (`.call`, `.feed_price`, `.pair_price`...) at its latest block, through a
        reader the engine owns; every failure there is an unknown answer (None), never an error here."""
        return self.scope.remote(rpc_url)

    def chain(self, chain_id: int) -> ChainReads | None:
        """Reads of the other network the daemon follows with this chain id (as `remote`, its RPC URL from the
        configuration): `.call`, `.feed_round`, `.head()`, `.logs(...)`; None when no such network is followed."""
        return self.scope.chain(chain_id)

    # -- prices --------------------------------------------------------------------------------------
    def aggregator(self, feed: str, block: int | str | None = None) -> str | None:
        """The aggregator behind a Chainlink-style proxy (`aggregator()`), None for a feed that is no proxy."""
        out = self.read(feed, "aggregator()(address)", (), block)
        return out[0] if out and int(out[0], 16) else None

    def feed_emitters(self) -> dict[str, Watched]:
        """Watched feed by the address that emits its rounds: the feed itself, and the current aggregator of a
        proxy (protocols read the proxy, which emits nothing per round). The aggregator is asked once and again
        only in a block where a transaction calls the proxy (an aggregator change)."""
        out: dict[str, Watched] = {}
        called = {tx.to for tx in self.txs.values() if tx.to}
        for feed in self.registry.role("oracle_feed"):
            out[feed.address] = feed
            slot = ("aggregator", feed.address)
            if slot not in self.scope.reads.static or feed.address in called:
                self.scope.reads.static[slot] = self.aggregator(feed.address)
            if self.scope.reads.static[slot]:
                out[self.scope.reads.static[slot]] = feed
        return out

    def feed_round(self, feed: str, block: int | str | None = None) -> FeedRound | None:
        """A Chainlink-style feed's latest round (`latestRoundData()` and `decimals()`), None when unreadable."""
        return self.scope.reads.feed_round(feed, self.at if block is None else block)

    def feed_price(self, feed: str, block: int | str | None = None) -> float | None:
        """A Chainlink-style feed's answer as a float, None when unreadable or not positive."""
        return self.scope.reads.feed_price(feed, self.at if block is None else block)

    def pair_tokens(self, pool: str) -> tuple[str, str] | None:
        return self.scope.reads.pair_tokens(pool)

    def reserves(self, pool: str, block: int | str | None = None) -> tuple[int, int] | None:
        """A Uniswap V2 style pool's reserves at `block` (default: after the event)."""
        return self.scope.reads.reserves(pool, self.at if block is None else block)

    def pair_price(self, pool: str, base: str | None = None, block: int | str | None = None) -> float | None:
        """Spot price of `base` (default: token0) in the pool's other token, decimal-adjusted; None if `base` is
        not in the pool or the pool cannot be read."""
        return self.scope.reads.pair_price(pool, base, self.at if block is None else block)

    def price_path(self, pool: str, base: str | None = None, *, whole_block: bool = False) -> PricePath:
        """`pool`'s price of `base` (default token0) after each of its Sync logs in the transaction (or the whole
        block), and `before` it: after the pool's last Sync earlier in the block, else at the previous block."""
        reads = self.scope.reads
        points = []
        for event in self.events(SYNC, pool, whole_block=whole_block):
            price = reads.scaled_price(pool, event.args["reserve0"], event.args["reserve1"], base)
            if price is not None:
                points.append((event, price))
        return PricePath(points, lambda: self._price_before(pool, base, whole_block))

    def largest_move(self, pool: str, base: str | None = None) -> float:
        """The farthest `pool`'s price of `base` got from where the transaction found it, as a signed share (0.0
        when the transaction did not trade on it)."""
        path = self.price_path(pool, base)
        if not path or not path.before:
            return 0.0
        return max((price / path.before - 1 for price in path.prices), key=abs)

    def _price_before(self, pool: str, base: str | None, whole_block: bool) -> float | None:
        if not whole_block and self.tx is not None and not self.pending and self.tx.index is not None:
            earlier = [e for e in self.events(SYNC, pool, whole_block=True) if e.log.tx_index < self.tx.index]
            if earlier:
                return self.scope.reads.scaled_price(pool, earlier[-1].args["reserve0"], earlier[-1].args["reserve1"], base)
        return self.pair_price(pool, base, self.before)

    def value(self, token: str, amount: int, block: int | str | None = None) -> float | None:
        """`amount` of `token` in the protocol's quote asset, priced by its own oracle (feed, else pre-block AMM; without
        hints, the median of the sources the protocol model knows for it)."""
        quote = self.registry.quote
        units = amount / 10 ** self.decimals(token)
        if quote is not None and quote.address == token.lower():
            return units
        when = self.before if block is None else block
        for feed in self.registry.feeds_for(token):
            price = self.feed_price(feed.address, when)
            if price is not None:
                return units * price
        if quote is not None:
            for pair in self.registry.role("amm_pair"):
                price = self.pair_price(pair.address, token, when)
                if price is not None:
                    return units * price
        model = self.model
        if model is not None and model.quote is not None:  # no hints: the median of the asset's learned sources
            if token.lower() == model.quote:
                return units
            prices = read_prices(model, self.scope.reads, when, {s.address for s in model.sources_of(token.lower())})
            price = honest_price(model, prices, token.lower())
            if price is not None:
                return units * price
        return None

    def source_price(self, source: Watched, asset: str | None = None, block: int | str | None = None) -> float | None:
        """The price a watched source gives for `asset`: a feed's answer, a pool's spot price, or the `price_call`
        (default `price()(uint256)`) of a TWAP oracle or adapter scaled by its `decimals` (default 18)."""
        if source.role == "oracle_feed":
            return self.feed_price(source.address, block)
        if source.role == "amm_pair":
            return self.pair_price(source.address, asset, block) if asset else None
        out = self.read(source.address, str(source.extra.get("price_call", "price()(uint256)")), (), block)
        return out[0] / 10 ** int(source.extra.get("decimals", 18)) if out else None

    # -- results -------------------------------------------------------------------------------------
    def finding(self, *, check: str | None = None, title: str | None = None, severity: Severity | None = None,
                confidence: float | None = None, description: str = "", addresses: Iterable[str] = (),
                evidence: dict[str, Any] | None = None, labels: dict[str, Any] | None = None, key: str = "",
                protocol: str | None = None) -> Finding:
        """A Finding of `check` (stored as `<rule id>.<check>`), pre-filled with the check's title and usual
        severity and with where the event happened."""
        rule = self.rule
        spec = None
        if rule.checks or check is not None:
            spec = rule.checks.get(check or "")
            if spec is None:
                raise ValueError(f"rule {rule.id} has no check {check!r}: name one of {', '.join(rule.checks) or 'none'}")
        addresses = sorted({a.lower() for a in addresses if a})
        return Finding(
            rule_id=f"{rule.id}.{check}" if spec else rule.id, title=title or (spec.title if spec else rule.title),
            severity=severity or (spec.severity if spec else rule.severity),
            confidence=rule.confidence if confidence is None else confidence, network=self.network,
            description=description, protocol=protocol or self.registry.protocol_of(addresses),
            block_number=None if self.pending else (self.block.number if self.block else None),
            block_hash=None if self.pending else (self.block.hash if self.block else None),
            tx_hash=self.tx.hash if self.tx else None, pending=self.pending,
            addresses=addresses, evidence=evidence or {}, labels=labels or {}, key=key,
        )


def _decode_output(types: str, raw: str | None) -> tuple[Any, ...] | None:
    if not raw or raw == "0x":
        return None
    try:
        return decode_values([t.strip() for t in types.split(",")], raw)
    except Exception:  # an answer of another shape
        return None
