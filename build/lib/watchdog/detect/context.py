"""What a rule sees when it runs: the event, the protocol registry, cached chain reads, its state and params."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from watchdog.chain.events import Block, CallFrame, ChainReader, Log, PendingTx, Tx
from watchdog.chain.rpc import RpcUnavailable
from watchdog.detect.abi import decode_result, encode_call, transfer_of
from watchdog.finding import Finding, Severity
from watchdog.detect.registry import ProtocolRegistry, Watched
from watchdog.detect.rule import Rule, Trigger
from watchdog.detect.state import RuleStateView

log = logging.getLogger(__name__)


class Scope:
    """Reads shared by every rule during one engine call (one block, one pending tx, one scheduled run)."""

    def __init__(self, reader: ChainReader, registry: ProtocolRegistry, block: Block | None,
                 pending: PendingTx | None = None, block_logs: list[Log] | None = None,
                 txs: dict[str, Tx] | None = None, static: dict | None = None) -> None:
        self.reader, self.registry, self.block, self.pending = reader, registry, block, pending
        self.static = static if static is not None else {}  # immutable reads (decimals, pair tokens), engine-wide
        self.block_logs = block_logs or []
        self.txs = txs or {}
        self._reads: dict[tuple[str, str, Any], tuple[Any, ...] | None] = {}
        self._traces: dict[str, CallFrame | None] = {}
        self._tx_logs: dict[str, list[Log]] = {}

    def read(self, to: str, signature: str, args: Iterable[Any], block: int | str) -> tuple[Any, ...] | None:
        data = encode_call(signature, args)
        slot = (to.lower(), data, block)
        if slot not in self._reads:
            try:
                self._reads[slot] = decode_result(signature, self.reader.call(to, data, block))
            except RpcUnavailable:
                raise  # the node is gone: the listener retries the whole block
            except Exception as exc:  # a revert or an empty answer: the rule decides what that means
                log.debug("read %s %s at %s failed: %s", to, signature, block, exc)
                self._reads[slot] = None
        return self._reads[slot]

    def read_static(self, to: str, signature: str) -> tuple[Any, ...] | None:
        """A read whose answer never changes (decimals(), token0()): asked once per engine, not per block."""
        slot = (to.lower(), signature)
        if slot not in self.static:
            self.static[slot] = self.read(to, signature, (), "latest")
        return self.static[slot]

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
            receipt = self.reader.receipt(tx_hash)
            self._tx_logs[tx_hash] = [self.registry.decoder.decode(_receipt_log(raw)) for raw in receipt.get("logs", [])]
        return self._tx_logs[tx_hash]


def _receipt_log(raw: dict[str, Any]) -> Log:
    return Log(
        address=raw["address"].lower(), topics=tuple(t.lower() for t in raw["topics"]), data=raw.get("data") or "0x",
        block_number=int(raw["blockNumber"], 16) if raw.get("blockNumber") else None,
        block_hash=raw.get("blockHash"), tx_hash=raw["transactionHash"].lower(),
        tx_index=int(raw.get("transactionIndex") or "0x0", 16), log_index=int(raw.get("logIndex") or "0x0", 16),
    )


class Context:
    """The argument of `Rule.evaluate`. Block-level rules see all logs; tx-level rules one transaction."""

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

    # -- lazy data -----------------------------------------------------------------------------------
    @property
    def trace(self) -> CallFrame | None:
        return self.scope.trace(self.tx.hash) if self.tx else None

    def tx_logs(self) -> list[Log]:
        return self.scope.tx_logs(self.tx.hash) if self.tx else self.logs

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
        actors: list[str] = []
        for entry in self.logs if logs is None else logs:
            actors.append(entry.address)
            move = transfer_of(entry)
            if move:
                actors += move[:2]
        return self.registry.core_touched(actors)

    def read(self, to: str, signature: str, args: Iterable[Any] = (), block: int | str | None = None) -> tuple[Any, ...] | None:
        """eth_call `to` with `signature` like `balanceOf(address)(uint256)`; decoded tuple, None on revert."""
        return self.scope.read(to, signature, tuple(args), self.at if block is None else block)

    def balance_of(self, token: str, holder: str, block: int | str | None = None) -> int | None:
        out = self.read(token, "balanceOf(address)(uint256)", [holder], block)
        return out[0] if out else None

    def native_balance(self, holder: str, block: int | str | None = None) -> int | None:
        """Wei of the chain's native coin held by `holder`; None when the node cannot say."""
        try:
            return self.scope.reader.balance(holder, self.at if block is None else block)
        except RpcUnavailable:
            raise
        except Exception as exc:
            log.debug("balance of %s at %s failed: %s", holder, block, exc)
            return None

    def decimals(self, token: str) -> int:
        watched = self.registry.get(token)
        if watched and "decimals" in watched.extra:
            return int(watched.extra["decimals"])
        out = self.scope.read_static(token, "decimals()(uint8)")
        return int(out[0]) if out else 18

    def feed_price(self, feed: str, block: int | str | None = None) -> float | None:
        """A Chainlink-style feed's answer as a float, None when unreadable or not positive."""
        data = self.read(feed, "latestRoundData()(uint80,int256,uint256,uint256,uint80)", (), block)
        dec = self.scope.read_static(feed, "decimals()(uint8)")
        if not data or data[1] <= 0:
            return None
        return data[1] / 10 ** (dec[0] if dec else 8)

    def value(self, token: str, amount: int, block: int | str | None = None) -> float | None:
        """`amount` of `token` in the protocol's quote asset, priced by its own oracle (feed, else pre-block AMM)."""
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
        return None

    def pair_price(self, pair: str, base: str, block: int | str | None = None) -> float | None:
        """Spot price of `base` in the pair's other token (decimal-adjusted), None if `base` is not in it."""
        tokens = self.pair_tokens(pair)
        reserves = self.read(pair, "getReserves()(uint112,uint112,uint32)", (), block)
        if tokens is None or reserves is None or base.lower() not in tokens or 0 in reserves[:2]:
            return None
        r0 = reserves[0] / 10 ** self.decimals(tokens[0])
        r1 = reserves[1] / 10 ** self.decimals(tokens[1])
        return r1 / r0 if base.lower() == tokens[0] else r0 / r1

    def pair_tokens(self, pair: str) -> tuple[str, str] | None:
        t0 = self.scope.read_static(pair, "token0()(address)")
        t1 = self.scope.read_static(pair, "token1()(address)")
        return (t0[0], t1[0]) if t0 and t1 else None

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
    def finding(self, *, title: str | None = None, severity: Severity | None = None, confidence: float | None = None,
                description: str = "", addresses: Iterable[str] = (), evidence: dict[str, Any] | None = None,
                labels: dict[str, Any] | None = None, key: str = "", protocol: str | None = None) -> Finding:
        """A Finding pre-filled with this rule's metadata and where the event happened."""
        rule = self.rule
        addresses = sorted({a.lower() for a in addresses})
        return Finding(
            rule_id=rule.id, title=title or rule.title, severity=severity or rule.severity,
            confidence=rule.confidence if confidence is None else confidence, network=self.network,
            description=description, protocol=protocol or self.registry.protocol_of(addresses),
            block_number=None if self.pending else (self.block.number if self.block else None),
            block_hash=None if self.pending else (self.block.hash if self.block else None),
            tx_hash=self.tx.hash if self.tx else None, pending=self.pending,
            addresses=addresses, evidence=evidence or {}, labels=labels or {}, key=key,
        )
