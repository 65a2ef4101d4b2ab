"""Prices in a transaction: what the pools and feeds it touched said and how they moved inside it, and a pricer
that values token amounts in the quote asset (the manifest token marked `"quote": true`) through a pool that
pairs the token with it, read at the block before the transaction."""

from __future__ import annotations

from typing import Any

from watchdog.chain.abi import decode_result, encode_call, topic
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.forensics.flows import NATIVE, Net
from watchdog.forensics.names import Names
from watchdog.manifest import Manifest

SYNC = topic("Sync(uint112,uint112)")
ANSWER_UPDATED = topic("AnswerUpdated(int256,uint256,uint256)")
NATIVE_TOKEN = "WETH"  # the manifest token priced like the native coin (as the drain rule does)


def read(rpc: RpcClient, to: str, signature: str, block: int | str = "latest", args: list[Any] | None = None) -> tuple[Any, ...] | None:
    """A view's values, or None when the contract does not answer it."""
    tag = hex(block) if isinstance(block, int) else block
    try:
        raw = rpc.call("eth_call", [{"to": to, "data": encode_call(signature, args or [])}, tag])
        return decode_result(signature, raw) if raw and raw != "0x" else None
    except (RpcAnswerError, ValueError, OverflowError):
        return None


class Pricer:
    """Values of token amounts in the quote asset at one block (None where no price source is known)."""

    def __init__(self, rpc: RpcClient, manifest: Manifest | None, block: int) -> None:
        self.rpc, self.block = rpc, block
        tokens = manifest.by_role("token") if manifest else []
        quote = next((t for t in tokens if (t.model_extra or {}).get("quote")), None)
        self.quote = quote.address.lower() if quote else None
        self.quote_name = quote.name if quote else None
        self.native = next((t.address.lower() for t in tokens if t.name == NATIVE_TOKEN), None)
        self.pairs = [p.address.lower() for p in manifest.by_role("amm_pair")] if manifest else []
        self._decimals: dict[str, int] = {}
        self._prices: dict[str, float | None] = {}

    def decimals(self, token: str) -> int:
        if token not in self._decimals:
            value = read(self.rpc, token, "decimals()(uint8)", self.block)
            self._decimals[token] = int(value[0]) if value else 18
        return self._decimals[token]

    def price(self, token: str) -> float | None:
        """Quote units per whole token."""
        token = self.native if token == NATIVE else token
        if token is None or self.quote is None:
            return None
        if token == self.quote:
            return 1.0
        if token not in self._prices:
            self._prices[token] = self._from_pairs(token)
        return self._prices[token]

    def _from_pairs(self, token: str) -> float | None:
        for pair in self.pairs:
            t0, t1 = read(self.rpc, pair, "token0()(address)", self.block), read(self.rpc, pair, "token1()(address)", self.block)
            reserves = read(self.rpc, pair, "getReserves()(uint112,uint112,uint32)", self.block)
            if not (t0 and t1 and reserves):
                continue
            sides = {t0[0]: reserves[0], t1[0]: reserves[1]}
            if set(sides) == {token, self.quote} and sides[token]:
                return (sides[self.quote] / 10 ** self.decimals(self.quote)) / (sides[token] / 10 ** self.decimals(token))
        return None

    def value(self, token: str, amount: int) -> float | None:
        price = self.price(token)
        if price is None:
            return None
        return amount / 10 ** (18 if token == NATIVE else self.decimals(token)) * price

    def total(self, tokens: dict[str, int]) -> float | None:
        """The value of a set of amounts; None when none of them can be priced."""
        values = [v for v in (self.value(t, a) for t, a in tokens.items()) if v is not None]
        return sum(values) if values else None


def valued(net: Net, pricer: Pricer, names: Names) -> list[dict[str, Any]]:
    """Per address: each token's net amount, and the total in the quote asset; biggest gainers first."""
    rows = []
    for address, tokens in net.items():
        if address == "gas":
            continue
        rows.append({"address": address, "name": names.name(address),
                     "tokens": {_token_name(t, names): str(a) for t, a in tokens.items()},
                     "value": pricer.total(tokens)})
    return sorted(rows, key=lambda r: -(r["value"] or 0))


def _token_name(token: str, names: Names) -> str:
    return names.name(token) or token


def sources_moved(rpc: RpcClient, logs: list[dict[str, Any]], block: int, names: Names, pricer: Pricer) -> list[dict[str, Any]]:
    """Each pool (Sync events) and feed (AnswerUpdated) the transaction touched: the price before it, every
    price it went through, the lowest, highest and last."""
    series: dict[str, list[float]] = {}
    kinds: dict[str, str] = {}
    for entry in logs:
        address, topics = entry["address"].lower(), entry.get("topics") or []
        if topics and topics[0] == SYNC:
            data = entry["data"][2:]
            price = _pool_price(rpc, address, int(data[:64], 16), int(data[64:128], 16), block, pricer)
            if price is not None:
                series.setdefault(address, []).append(price)
                kinds[address] = "pool"
        elif topics and topics[0] == ANSWER_UPDATED and len(topics) > 1:
            answer = int(topics[1], 16)
            answer -= (1 << 256) if answer >= 1 << 255 else 0
            decimals = read(rpc, address, "decimals()(uint8)", block)
            series.setdefault(address, []).append(answer / 10 ** (int(decimals[0]) if decimals else 8))
            kinds[address] = "feed"
    out = []
    for address, prices in series.items():
        before = _before(rpc, address, kinds[address], block - 1, pricer)
        start = before if before is not None else prices[0]
        low, high = min(prices), max(prices)
        out.append({"source": address, "name": names.name(address), "kind": kinds[address], "before": before,
                    "path": prices[:50], "low": low, "high": high, "after": prices[-1],
                    "max_move": max(abs(low - start), abs(high - start)) / start if start else None,
                    "end_move": (prices[-1] - start) / start if start else None})
    return out


def _pool_price(rpc: RpcClient, pair: str, r0: int, r1: int, block: int, pricer: Pricer) -> float | None:
    """The price of the pool's non-quote token in the other one (token0 in token1 when neither is the quote)."""
    t0, t1 = read(rpc, pair, "token0()(address)", block), read(rpc, pair, "token1()(address)", block)
    if not (t0 and t1 and r0 and r1):
        return None
    a, b = t0[0], t1[0]
    x, y = r0 / 10 ** pricer.decimals(a), r1 / 10 ** pricer.decimals(b)
    return x / y if a == pricer.quote else y / x


def _before(rpc: RpcClient, address: str, kind: str, block: int, pricer: Pricer) -> float | None:
    if kind == "pool":
        reserves = read(rpc, address, "getReserves()(uint112,uint112,uint32)", block)
        return _pool_price(rpc, address, reserves[0], reserves[1], block, pricer) if reserves else None
    answer = read(rpc, address, "latestRoundData()(uint80,int256,uint256,uint256,uint80)", block)
    decimals = read(rpc, address, "decimals()(uint8)", block)
    return answer[1] / 10 ** (int(decimals[0]) if decimals else 8) if answer else None
