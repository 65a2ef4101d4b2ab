"""Reads of one chain during one engine call: eth_calls decoded and cached by block tag, answers that never
change (decimals, a pair's tokens) cached for the engine's life, and the prices built on them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from watchdog.chain.events import ChainReader, Log
from watchdog.chain.rpc import RpcUnavailable
from watchdog.detect.abi import decode_result, encode_call

log = logging.getLogger(__name__)

ROUND = "latestRoundData()(uint80,int256,uint256,uint256,uint80)"
RESERVES = "getReserves()(uint112,uint112,uint32)"
QUIET_SECONDS = 15.0  # another network's node that did not answer is not asked again for this long
_QUIET_UNTIL = "quiet until"


@dataclass(frozen=True, slots=True)
class FeedRound:
    """A Chainlink-style feed's `latestRoundData()` and its `decimals()`."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int
    decimals: int

    @property
    def price(self) -> float:
        return self.answer / 10 ** self.decimals


class ChainReads:
    """eth_call reads of one chain. `strict`: a node outage propagates (the listener retries the whole event);
    otherwise (another network, read for comparison only) every failure is just an unknown answer."""

    def __init__(self, reader: ChainReader, static: dict, *, strict: bool = True,
                 known_decimals: Callable[[str], int | None] | None = None) -> None:
        self.reader, self.static, self.strict = reader, static, strict
        self._known_decimals = known_decimals
        self._reads: dict[tuple[str, str, Any], tuple[Any, ...] | None] = {}
        self._raw: dict[tuple[str, str, Any], str | None] = {}
        self._misc: dict[Any, Any] = {}  # the head and the log queries of this engine call

    def raw(self, to: str, data: str, block: int | str = "latest") -> str | None:
        """The raw answer of an eth_call, None when it reverts or the node cannot answer."""
        slot = (to.lower(), data, block)
        if slot not in self._raw:
            try:
                self._raw[slot] = self.reader.call(to, data, block)
            except RpcUnavailable:
                if self.strict:
                    raise  # the node is gone: the listener retries the whole block
                self._raw[slot] = None
            except Exception as exc:  # a revert or an empty answer: the rule decides what that means
                log.debug("call %s %s at %s failed: %s", to, data[:10], block, exc)
                self._raw[slot] = None
        return self._raw[slot]

    def _ask(self, what: str, ask: Callable[[], Any]) -> Any:
        """`ask()`, None when it fails. Another network's node that did not answer is left alone for
        `QUIET_SECONDS`: a node down there never holds up detection here."""
        if not self.strict and self.static.get(_QUIET_UNTIL, 0.0) > time.monotonic():
            return None
        try:
            return ask()
        except RpcUnavailable:
            if self.strict:
                raise  # the node is gone: the listener retries the whole block
            self.static[_QUIET_UNTIL] = time.monotonic() + QUIET_SECONDS
        except Exception as exc:  # an error answer: the rule decides what an unknown means
            log.debug("%s failed: %s", what, exc)
        return None

    def head(self) -> int | None:
        """The number of the chain's latest block (the reader's own block), None when the node cannot say."""
        if "head" not in self._misc:
            block = self._ask("latest block", self.reader.latest_block)
            self._misc["head"] = block.number if block is not None else None
        return self._misc["head"]

    def block_time(self, number: int) -> int | None:
        """The timestamp of block `number`, None when the node cannot say (asked once per engine)."""
        slot = ("block_time", number)
        if slot not in self.static:
            block = self._ask(f"block {number}", lambda: self.reader.block_at(number))
            if block is None:
                return None
            self.static[slot] = block.timestamp
        return self.static[slot]

    def logs(self, addresses: Iterable[str], topics: list[Any], from_block: int,
             to_block: int | str = "latest") -> list[Log] | None:
        """The logs of `addresses` matching `topics` (eth_getLogs: a topic0 per position, a list of alternatives, or
        None for any), in chain order; None when the node cannot answer. Cached for this engine call."""
        wanted = sorted({a.lower() for a in addresses})
        slot = ("logs", tuple(wanted), repr(topics), from_block, to_block)
        if slot not in self._misc:
            found = self._ask(f"logs of {wanted} from {from_block}",
                              lambda: self.reader.logs(wanted, topics, from_block, to_block))
            self._misc[slot] = None if found is None else sorted(found, key=lambda x: (x.block_number or 0, x.log_index))
        return self._misc[slot]

    def call(self, to: str, signature: str, args: Iterable[Any] = (), block: int | str = "latest") -> tuple[Any, ...] | None:
        """eth_call `to` with `signature` like `balanceOf(address)(uint256)`; the decoded tuple, None on failure."""
        data = encode_call(signature, tuple(args))
        slot = (to.lower(), data, block)
        if slot not in self._reads:
            raw = self.raw(to, data, block)
            try:
                self._reads[slot] = None if raw is None else decode_result(signature, raw)
            except Exception as exc:  # an answer of the wrong shape
                log.debug("answer of %s %s at %s undecodable: %s", to, signature, block, exc)
                self._reads[slot] = None
        return self._reads[slot]

    def constant(self, to: str, signature: str) -> tuple[Any, ...] | None:
        """A read whose answer never changes (decimals(), token0()): asked once per engine, not per block."""
        slot = (to.lower(), signature)
        if slot not in self.static:
            self.static[slot] = self.call(to, signature)
        return self.static[slot]

    def decimals(self, token: str, default: int = 18) -> int:
        known = self._known_decimals(token) if self._known_decimals else None
        if known is not None:
            return known
        out = self.constant(token, "decimals()(uint8)")
        return int(out[0]) if out else default

    def feed_round(self, feed: str, block: int | str = "latest") -> FeedRound | None:
        """A Chainlink-style feed's latest round, None when unreadable."""
        data = self.call(feed, ROUND, (), block)
        return FeedRound(*data, decimals=self.decimals(feed, default=8)) if data else None

    def feed_price(self, feed: str, block: int | str = "latest") -> float | None:
        """A Chainlink-style feed's answer as a float, None when unreadable or not positive."""
        data = self.feed_round(feed, block)
        return data.price if data and data.answer > 0 else None

    def pair_tokens(self, pool: str) -> tuple[str, str] | None:
        t0 = self.constant(pool, "token0()(address)")
        t1 = self.constant(pool, "token1()(address)")
        return (t0[0], t1[0]) if t0 and t1 else None

    def reserves(self, pool: str, block: int | str = "latest") -> tuple[int, int] | None:
        """A Uniswap V2 style pool's (reserve0, reserve1), None when unreadable."""
        out = self.call(pool, RESERVES, (), block)
        return (out[0], out[1]) if out else None

    def scaled_price(self, pool: str, reserve0: int, reserve1: int, base: str | None = None) -> float | None:
        """Price of `base` (default token0) in the pool's other token for these reserves, decimal-adjusted."""
        tokens = self.pair_tokens(pool)
        if tokens is None or 0 in (reserve0, reserve1) or (base is not None and base.lower() not in tokens):
            return None
        r0 = reserve0 / 10 ** self.decimals(tokens[0])
        r1 = reserve1 / 10 ** self.decimals(tokens[1])
        return r0 / r1 if base is not None and base.lower() == tokens[1] else r1 / r0

    def pair_price(self, pool: str, base: str | None = None, block: int | str = "latest") -> float | None:
        """Spot price of `base` (default token0) in the pool's other token, None if unreadable or not in it."""
        reserves = self.reserves(pool, block)
        return self.scaled_price(pool, *reserves, base=base) if reserves else None
