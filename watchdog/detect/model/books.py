"""A holder's books, read at a block: the price of its share (what one claim token is worth in the token its
books are kept in), and an account's positions with it (every view that takes an address and answers numbers:
deposits, debts, shares, positions per market). Whether an outflow settles a claim is judged on these."""

from __future__ import annotations

from typing import Any

from watchdog.detect.model.graph import Holder, ProtocolModel
from watchdog.detect.model.probe import MAX_INDEX, views
from watchdog.detect.reads import ChainReads

ONE_SHARE = "convertToAssets(uint256)(uint256)"
# Views answering the value of one share scaled by a constant of the contract (Compound's exchange rate, Yearn's
# price per share): only their moves are compared, never their level.
RATE_VIEWS = ("exchangeRateStored()(uint256)", "pricePerShare()(uint256)", "getPricePerFullShare()(uint256)")


def share_price(reads: ChainReads, model: ProtocolModel, holder: Holder, block: int | str) -> float | None:
    """One claim token in the holder's accounting token: ERC-4626 `convertToAssets` (which an empty vault answers
    at par), else `totalAssets()` over the claim token's supply, else a rate view (`exchangeRateStored()`,
    `pricePerShare()`) over 1e18, whose scale is the contract's own; None for a holder without shares."""
    if not holder.claim_token:
        return None
    asset = holder.accounting or model.quote
    asset_unit = 10 ** reads.decimals(asset) if asset else 1
    unit = 10 ** reads.decimals(holder.claim_token)
    out = reads.call(holder.address, ONE_SHARE, (unit,), block)
    if out:
        return out[0] / asset_unit
    supply = reads.call(holder.claim_token, "totalSupply()(uint256)", (), block)
    assets = reads.call(holder.address, "totalAssets()(uint256)", (), block)
    if supply and supply[0] and assets:
        return assets[0] / asset_unit / (supply[0] / unit)
    for view in RATE_VIEWS:
        out = reads.call(holder.address, view, (), block)
        if out and out[0]:
            return out[0] / 10**18
    return None


def positions(reads: ChainReads, abi: list[dict[str, Any]], holder: Holder, account: str, tokens: list[str],
              block: int | str) -> dict[str, tuple[Any, ...]]:
    """`account`'s positions with the holder: each view taking one address (and at most one market id or token
    besides) and answering numbers, asked for that account, by view and key."""
    out: dict[str, tuple[Any, ...]] = {}
    for view in views(abi):
        if view.inputs.count("address") < 1 or len(view.inputs) > 2 or not _numbers(view.outputs):
            continue
        for args in _arguments(view.inputs, account, holder.ids, tokens):
            answer = reads.call(holder.address, view.signature, args, block)
            if answer is not None:
                out[f"{view.name}{list(args[:-1] if len(args) > 1 else [])}"] = answer
    return out


def _numbers(outputs: tuple[str, ...]) -> bool:
    return any(t.startswith(("uint", "int")) for t in outputs)


def _arguments(inputs: tuple[str, ...], account: str, ids: list[str], tokens: list[str]) -> list[tuple[Any, ...]]:
    """The calls that ask about `account`: (account,), or (key, account) for each known id / token."""
    if inputs == ("address",):
        return [(account,)]
    if len(inputs) != 2 or inputs[1] != "address":
        return []
    keys = {"bytes32": [bytes.fromhex(i[2:]) for i in ids], "address": tokens,
            "uint256": list(range(MAX_INDEX))}.get(inputs[0], [])
    return [(key, account) for key in keys]


def changed_positions(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
