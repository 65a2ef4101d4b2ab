"""What a holder has at risk, in the quote asset: its balance of the quote token, and of every other token a
source of the model prices."""

from __future__ import annotations

from watchdog.detect.model.graph import ProtocolModel
from watchdog.detect.model.probe import price_of
from watchdog.detect.reads import ChainReads


def value_at_risk(model: ProtocolModel, reads: ChainReads, holder: str, block: int | str = "latest") -> float | None:
    found = model.holders.get(holder)
    if found is None or model.quote is None:
        return None
    total = 0.0
    for token, _ in found.holds.items():
        out = reads.call(token, "balanceOf(address)(uint256)", (holder,), block)
        balance = out[0] if out else 0
        if not balance:
            continue
        units = balance / 10 ** reads.decimals(token)
        if token == model.quote:
            total += units
            continue
        source = next((s for s in model.sources_of(token) if s.quote == model.quote), None)
        price = price_of(reads, source, block) if source else None
        if price:
            total += units * price
    return round(total, 2)
