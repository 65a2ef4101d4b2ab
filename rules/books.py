"""books: a protocol that keeps books in shares (an ERC-4626 vault, a pool issuing share tokens) has a share
price that honest flows do not move: deposits and withdrawals trade at it, yield lifts it a little. A jump in one
block is a donation or inflation (the next depositor gets nothing), a fall is value taken from every holder."""

from __future__ import annotations

from watchdog.detect import Check, Context, Rule, Severity
from watchdog.detect.model.books import share_price


class Books(Rule):
    id = "books"
    title = "Share price moved"
    severity = Severity.HIGH
    confidence = 0.85
    description = ("The share price of a protocol that issues shares (convertToAssets, else totalAssets over the "
                   "share supply) rose by `jump` or fell by `fall` within one block, which no deposit, withdrawal or "
                   "yield explains. The protocol model finds such protocols and their share tokens on its own.")
    references = ("ERC-4626 share inflation by donation; invariant monitors that track share price per block",)
    params = {
        "jump": 0.5,    # a share price rising this much in one block
        "fall": 0.2,    # a share price falling this much in one block
    }
    checks = {
        "share-price": Check("Share price jumped or fell in one block", Severity.HIGH, ("jump", "fall"),
                             "A share price rose by jump or fell by fall within one block; critical from ten times "
                             "the jump or a fall to under half."),
    }

    def on_block(self, ctx: Context):
        model = ctx.model
        if model is None:
            return
        emitting = {e.address for e in ctx.logs} | {m.sender for m in ctx.transfers()} | {m.recipient for m in ctx.transfers()}
        p = ctx.params_of("share-price")
        for holder in model.holders.values():
            if not holder.claim_token or not ({holder.address, holder.claim_token} & emitting):
                continue  # its books did not move in this block
            before = share_price(ctx.scope.reads, model, holder, ctx.before)
            after = share_price(ctx.scope.reads, model, holder, ctx.at)
            if not before or after is None:
                continue
            change = after / before - 1
            if -p["fall"] < change < p["jump"]:
                continue
            critical = change >= 10 * p["jump"] or after < before / 2
            yield ctx.finding(
                check="share-price",
                title=f"{holder.name}: share price {'rose' if change > 0 else 'fell'} {change:+.0%} in one block",
                severity=Severity.CRITICAL if critical else Severity.HIGH,
                description=(f"One {model.tokens.get(holder.claim_token, 'share')} of {holder.name} was worth {before:.6g} "
                             f"before block {ctx.block.number} and {after:.6g} after it: "
                             + ("a donation or inflation, the next depositors get nothing." if change > 0 else
                                "value taken from every holder of its shares.")),
                addresses=[holder.address],
                evidence={"holder": holder.name, "share_price_before": before, "share_price_after": after,
                          "change": change, "claim_token": holder.claim_token},
                key=holder.address,
            )
