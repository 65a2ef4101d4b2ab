"""The model's sources read side by side: each price against the other sources of the same asset (an outlier,
a pool pushed with nothing else moving), and an asset's honest price (the median of its independent sources).

Two sources are *peers* when they price the same asset in the same quote and neither reads the other (a TWAP is
not a witness against its own pool). A USD feed and a pool quoted in the protocols' dollar token are peers."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from watchdog.detect.model.graph import ProtocolModel, Source
from watchdog.detect.model.probe import Prober, price_of
from watchdog.detect.reads import ChainReads
from watchdog.detect.registry import ProtocolRegistry


def quote_of(model: ProtocolModel, source: Source) -> str | None:
    """The source's quote; a USD feed's "usd" is the model's quote when that token is a dollar."""
    if source.quote == "usd" and model.quote and "USD" in model.tokens.get(model.quote, "").upper():
        return model.quote
    return source.quote


def peers(model: ProtocolModel, source: Source) -> list[Source]:
    """The other sources of `source`'s asset and quote, neither reading the other."""
    quote = quote_of(model, source)
    if source.base is None or quote is None:
        return []
    mine = model.reads(source.address)
    return [s for s in model.sources.values()
            if s.address not in mine and s.base == source.base and quote_of(model, s) == quote
            and source.address not in model.reads(s.address)]


def read_prices(model: ProtocolModel, reads: ChainReads, block: int | str, sources: set[str] | None = None,
                known: dict[str, float] | None = None) -> dict[str, float]:
    """Source -> price at `block` (every source, or those of `sources` and their peers); `known` prices (a pool's
    from a transaction's own Sync) win over reads."""
    wanted = set(model.sources) if sources is None else {p.address for a in sources if a in model.sources
                                                         for p in (model.sources[a], *peers(model, model.sources[a]))}
    out = dict(known or {})
    for address in wanted - set(out):
        price = price_of(reads, model.sources[address], block)
        if price:
            out[address] = price
    return out


@dataclass(frozen=True)
class Outlier:
    source: Source
    price: float
    reference: float   # the median of the group (itself and its peers), or the one peer's price
    gap: float         # price / reference - 1
    witnesses: list[str]  # the peers' names

    @property
    def describe(self) -> str:
        return (f"{self.source.name} gives {self.price:.6g}, {self.gap:+.1%} off {self.reference:.6g} "
                f"(from {', '.join(self.witnesses)})")


def outlier(model: ProtocolModel, source: Source, prices: dict[str, float]) -> Outlier | None:
    """How far `source` is from its peers: against the median of the whole group when there are three or more
    (one liar cannot move it), against the other one when there are two. None without a price or a peer."""
    price = prices.get(source.address)
    witnesses = [p for p in peers(model, source) if p.address in prices]
    if not price or not witnesses:
        return None
    if len(witnesses) == 1:
        reference = prices[witnesses[0].address]
    else:
        reference = median([price, *(prices[p.address] for p in witnesses)])
    return Outlier(source, price, reference, price / reference - 1, [p.name for p in witnesses])


def corroborated(model: ProtocolModel, source: Source, before: dict[str, float], after: dict[str, float],
                 move: float) -> bool:
    """Whether a peer moved the same way by at least half of `move` between the two readings: the market moved,
    not just this source."""
    for peer in peers(model, source):
        if peer.kind == "derived" or not before.get(peer.address) or not after.get(peer.address):
            continue
        peer_move = after[peer.address] / before[peer.address] - 1
        if peer_move * move > 0 and abs(peer_move) >= abs(move) / 2:
            return True
    return False


def honest_price(model: ProtocolModel, prices: dict[str, float], token: str) -> float | None:
    """`token` in the model's quote: 1 for the quote itself, else the median of its feeds' and pools' prices."""
    if token == model.quote:
        return 1.0
    found = [prices[s.address] for s in model.sources_of(token)
             if s.kind != "derived" and quote_of(model, s) == model.quote and s.address in prices]
    return median(found) if found else None


def appraise(model: ProtocolModel, registry: ProtocolRegistry, reads: ChainReads, block: int | str,
             address: str) -> tuple[Source, float | None, Outlier | None] | None:
    """A price source a change names (a new feed, pool or adapter), priced against the sources the model knows for
    its asset, the model itself untouched: (the source, its price, how far it is from its peers); None when the
    address is no price source."""
    trial = ProtocolModel.from_json(model.to_json())
    prober = Prober(registry, reads, block)
    prober.model = trial
    if prober.kind(address) not in ("feed", "pair", "derived"):
        return None
    source = prober.source(address)
    prober._assets()
    prices = read_prices(trial, reads, block, {address})
    return source, prices.get(address), outlier(trial, source, prices)
