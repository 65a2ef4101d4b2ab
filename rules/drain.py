"""drain: a watched vault, market or lending pool loses more than a share of a token balance (or of its native
coin) in one transaction or one block, or far more than its usual outflow in one transaction.

An outflow the holder owed is no loss, however large: judged on the protocol model, a transaction that settles a
position of its sender or receiver (a deposit withdrawn, shares redeemed at an unchanged share price, a loan
taken, a trade closed) while every price the holder reads agrees with the other sources of its asset, or that
paid the holder as much in return at honest prices, is not reported. Cash leaving through an owner's call, against
a price off its peers or stale, at a falling share price, or to an address with no position, is."""

from __future__ import annotations

from typing import Iterable

from watchdog.chain.events import CallFrame
from watchdog.detect import Check, Context, Rule, Severity
from watchdog.detect.context import Transfer
from watchdog.detect.model import ProtocolModel
from watchdog.detect.model.books import changed_positions, positions, share_price
from watchdog.detect.model.graph import Holder
from watchdog.detect.model.prices import honest_price, outlier, read_prices
from watchdog.detect.registry import FUND_ROLES
from watchdog.detect.stats import ewma, remember, values

NATIVE = "0x" + "ee" * 20  # the usual stand-in address for the chain's native coin (ETH)
SHARE = ("max_fraction", "critical_fraction", "min_value")
OWED = ("divergence", "paid_back", "share_drop")


def net_flows(moves: Iterable[Transfer], holders: set[str]) -> dict[tuple[str, str], int]:
    """(holder, token) -> tokens that left minus tokens that arrived."""
    out: dict[tuple[str, str], int] = {}
    for move in moves:
        if move.sender in holders:
            out[(move.sender, move.token)] = out.get((move.sender, move.token), 0) + move.value
        if move.recipient in holders:
            out[(move.recipient, move.token)] = out.get((move.recipient, move.token), 0) - move.value
    return out


def native_flows(frames: Iterable[CallFrame], holders: set[str]) -> dict[tuple[str, str], int]:
    """(holder, NATIVE) -> wei that left minus wei that arrived, over call frames that took effect. A
    delegatecall's value is its caller's, not a transfer."""
    out: dict[tuple[str, str], int] = {}
    for frame in frames:
        if frame.value and frame.type not in ("DELEGATECALL", "STATICCALL"):
            if frame.sender in holders:
                out[(frame.sender, NATIVE)] = out.get((frame.sender, NATIVE), 0) + frame.value
            if frame.to in holders:
                out[(frame.to, NATIVE)] = out.get((frame.to, NATIVE), 0) - frame.value
    return out


class Drain(Rule):
    id = "drain"
    title = "Funds drained"
    severity = Severity.HIGH
    confidence = 0.85
    description = ("A watched vault, market or lending pool lost more than `max_fraction` of a token balance (or of "
                   "its native coin) in one transaction or block, or more than `usual_multiple` times its usual "
                   "outflow in one transaction.")
    references = ("Published detection heuristics: asset drained (balance falls >= 99 % block over block, loss > "
                  "10k); large balance decrease outside the usual band",)
    params = {
        "max_fraction": 0.5,        # share of the balance leaving in one tx/block that is alarming
        "critical_fraction": 0.9,
        "usual_multiple": 10.0,     # x the EWMA of past outflows (after warm-up) is reported
        "warmup": 10,               # outflows observed before the usual-outflow check speaks
        "alpha": 0.2,               # EWMA weight of the newest outflow
        "min_value": 10_000.0,      # quote units: smaller losses stay low severity
        "native_asset": "WETH",     # watched token priced like the native coin (for the value floor)
        "divergence": 0.25,         # a price the holder reads this far off its peers: nothing paid at it is owed
        "paid_back": 0.8,           # value returned in the same transaction, as a share of the value taken
        "share_drop": 0.01,         # a share price falling this much: the outflow took from the other holders
    }
    checks = {
        "tx": Check("Token balance drained in one transaction", Severity.HIGH, (*SHARE, *OWED),
                    "One transaction took max_fraction or more of a holder's balance of a token (critical from "
                    "critical_fraction) that the holder did not owe (see the rule's description); low when worth "
                    "less than min_value; medium while pending, unless an owner sent it."),
        "block": Check("Token balance drained over one block", Severity.HIGH, SHARE,
                       "Several transactions of one block, each under max_fraction, together took more."),
        "native-tx": Check("Native coin drained in one transaction", Severity.HIGH, (*SHARE, *OWED, "native_asset"),
                           "The call trace of one transaction took max_fraction or more of a holder's native coin."),
        "native-block": Check("Native coin drained over one block", Severity.HIGH, (*SHARE, "native_asset"),
                              "A holder's native coin fell by max_fraction or more over a block and no single "
                              "transaction explains it (split, or through contracts that emit nothing)."),
        "unusual-outflow": Check("Outflow far above the usual", Severity.MEDIUM,
                                 ("usual_multiple", "warmup", "alpha", "min_value", "native_asset"),
                                 "One transaction took usual_multiple times the usual outflow (EWMA) of a holder, "
                                 "after warmup outflows."),
    }
    needs = {"trace": "native coin taken inside a transaction (native-tx)",
             "archive": "balances before old blocks, when catching up"}

    def on_tx(self, ctx: Context):
        tokens, native = ctx.enabled("tx", "unusual-outflow"), ctx.enabled("native-tx", "unusual-outflow")
        holders = {w.address for w in ctx.registry.role(*FUND_ROLES)}
        flows = net_flows(ctx.transfers(), holders) if tokens else {}
        poorer = self._poorer(ctx, holders) if native else set()
        if poorer:  # only then is the transaction traced
            flows.update(native_flows(ctx.frames(), poorer))
        if not flows:
            return
        earlier = [m for m in ctx.transfers(whole_block=True) if not ctx.pending and m.log.tx_index < (ctx.tx.index or 0)]
        before_tx = net_flows(earlier, holders)  # native coin: from the block's start (earlier txs are not traced)
        unusual = ctx.enabled("unusual-outflow")
        for (holder, token), outflow in flows.items():
            if outflow <= 0:
                continue
            start = (self._balance(ctx, token, holder) or 0) - before_tx.get((holder, token), 0)
            key = f"usual:{holder}:{token}"
            history = ctx.state.get(key, []) if unusual else []
            past = [x for x in history if x[2] != ctx.tx.hash and (ctx.pending or x[0] < ctx.block.number)]
            check = "native-tx" if token == NATIVE else "tx"
            finding = self._judge(ctx, check, holder, token, outflow, start, self._usual(ctx, values(past)))
            if finding is not None:
                finding = self._unless_owed(ctx, finding, holder, token, flows)
            if finding is not None:
                yield finding
            if unusual and not ctx.pending:
                history, new = remember(history, ctx.block.number, ctx.block.hash, ctx.tx.hash, float(outflow), 200)
                if new:
                    ctx.state.set(key, history)

    on_pending = on_tx

    def needs_trace(self, ctx: Context) -> bool:
        # native coin leaves without a log: the block's transactions are traced once a holder's balance fell
        holders = {w.address for w in ctx.registry.role(*FUND_ROLES)}
        return ctx.enabled("native-tx", "unusual-outflow", "native-block") and bool(self._poorer(ctx, holders))

    def on_block(self, ctx: Context):
        holders = {w.address for w in ctx.registry.role(*FUND_ROLES)}
        if ctx.enabled("block"):
            yield from self._block(ctx, holders)
        if ctx.enabled("native-block"):
            yield from self._native_block(ctx, holders)

    # -- what the holder owed ------------------------------------------------------------------------------
    def _unless_owed(self, ctx: Context, finding, holder: str, token: str, flows: dict[tuple[str, str], int]):
        """The finding, unless the model shows the outflow settled what the holder owed (None). A pending
        transaction's result cannot be read yet: pushing a price the holder reads, it stands; paid back, it is
        dropped; from an account that holds a position with the holder, it is medium until it lands."""
        model = ctx.model
        found = model.holders.get(holder) if model else None
        if found is None:
            return finding
        privileged = ctx.tx.sender in found.owners or ctx.tx.to in found.owners
        if ctx.pending:
            limit = ctx.params_of("tx")["divergence"]
            read = self._reads(model, found)
            if privileged or finding.severity < Severity.HIGH or any(
                    self._pushed_inside(ctx, model, address, limit) for address in read):
                return finding
            paid = self._paid_back(ctx, model, found, flows)
            if paid is not None and paid >= ctx.params_of("tx")["paid_back"]:
                return None
            if self._accounts_with_positions(ctx, model, found, token, ctx.before):
                finding.severity = Severity.MEDIUM
                finding.evidence["judgement"] = "pending, from an account with a position: judged once it lands"
            return finding
        reason, why_not = self._owed(ctx, model, found, token, flows, privileged)
        if reason:
            return None
        finding.evidence["judgement"] = why_not
        finding.description += f" Not owed: {why_not}."
        return finding

    @staticmethod
    def _accounts(ctx: Context, holder: Holder, token: str) -> list[str]:
        """The transaction's sender and the receivers of `token` from the holder."""
        recipients = {m.recipient for m in ctx.transfers() if m.sender == holder.address and m.token == token}
        return sorted({ctx.tx.sender, *recipients})

    @staticmethod
    def _system(model: ProtocolModel, holder: Holder) -> list[Holder]:
        """The holder and those that work as one with it: a vault pays out what its market's books say is owed,
        at the prices the market reads."""
        return [holder, *(model.holders[a] for a in model.system(holder.address))]

    def _reads(self, model: ProtocolModel, holder: Holder) -> set[str]:
        """Every source the holder's system reads, directly or through adapters."""
        return {s for member in self._system(model, holder) for use in member.uses for s in model.reads(use.source)}

    def _positions(self, ctx: Context, model: ProtocolModel, holder: Holder, account: str,
                   block: int | str) -> dict[str, tuple]:
        """`account`'s positions with every part of the holder's system, by part and view."""
        out = {}
        for member in self._system(model, holder):
            abi = ctx.registry.manifest.abi_of(ctx.registry.get(member.address).entry)
            found = positions(ctx.scope.reads, abi, member, account, sorted(model.tokens), block)
            out |= {(f"{member.name}.{view}" if member is not holder else view): answer for view, answer in found.items()}
        return out

    def _accounts_with_positions(self, ctx: Context, model: ProtocolModel, holder: Holder, token: str,
                                 block: int | str) -> list[str]:
        return [a for a in self._accounts(ctx, holder, token)
                if any(any(v for v in answer if isinstance(v, int))
                       for answer in self._positions(ctx, model, holder, a, block).values())]

    def _owed(self, ctx: Context, model: ProtocolModel, holder: Holder, token: str,
              flows: dict[tuple[str, str], int], privileged: bool) -> tuple[str | None, str]:
        """(why the outflow was owed, None) or (None, why it was not)."""
        p = ctx.params_of("tx")
        reads = ctx.scope.reads
        before, after = share_price(reads, model, holder, ctx.before), share_price(reads, model, holder, ctx.at)
        if before and after is not None and after < before * (1 - p["share_drop"]):
            return None, f"its share price fell from {before:.6g} to {after:.6g}"
        if privileged:
            if before and after is not None:
                return "the books did not change: the share price held", ""
            return None, "it left through an owner's call"
        read = self._reads(model, holder)
        prices = read_prices(model, reads, ctx.at, read)
        for address in sorted(read):
            off = outlier(model, model.sources[address], prices)
            if off is not None and abs(off.gap) >= p["divergence"]:
                return None, f"the holder reads a price off its peers: {off.describe}"
            problem = self._late(ctx, model, address) or self._pushed_inside(ctx, model, address, p["divergence"])
            if problem:
                return None, problem
        paid = self._paid_back(ctx, model, holder, flows)
        if paid is not None and paid >= p["paid_back"]:
            return f"the holder was paid {paid:.0%} of it back at honest prices", ""
        for account in self._accounts(ctx, holder, token):
            changed = changed_positions(self._positions(ctx, model, holder, account, ctx.before),
                                        self._positions(ctx, model, holder, account, ctx.at))
            if changed:
                return f"it settles a position of {account} ({', '.join(changed)})", ""
        return None, "the receiver holds no position with it"

    @staticmethod
    def _late(ctx: Context, model: ProtocolModel, address: str) -> str | None:
        source = model.sources[address]
        if source.kind != "feed" or not source.heartbeat:
            return None
        data = ctx.feed_round(address)
        if data is None or ctx.now - data.updated_at <= source.heartbeat:
            return None
        return f"the holder reads {source.name}, {ctx.now - data.updated_at}s old against a learned heartbeat of {source.heartbeat}s"

    @staticmethod
    def _pushed_inside(ctx: Context, model: ProtocolModel, address: str, limit: float) -> str | None:
        """A pool the holder reads that this very transaction moved `limit` away from where it started (and maybe
        back): whatever the holder paid at that price was not owed."""
        source = model.sources[address]
        if source.kind != "pair" or ctx.registry.get(address) is None:
            return None
        move = ctx.largest_move(address, source.base)
        if abs(move) < limit:
            return None
        return f"the holder reads {source.name}, pushed {move:+.0%} inside this transaction"

    @staticmethod
    def _paid_back(ctx: Context, model: ProtocolModel, holder: Holder, flows: dict[tuple[str, str], int]) -> float | None:
        """Value that came into the holder in the transaction over value that left, at honest prices (the median
        of each asset's independent sources before the block)."""
        prices = read_prices(model, ctx.scope.reads, ctx.before)
        taken = returned = 0.0
        for (who, token), net in flows.items():
            price = honest_price(model, prices, token) if who == holder.address else None
            if price is None or token == NATIVE:
                continue
            amount = abs(net) / 10 ** ctx.decimals(token) * price
            taken, returned = (taken + amount, returned) if net > 0 else (taken, returned + amount)
        return returned / taken if taken else None

    @staticmethod
    def _poorer(ctx: Context, holders: set[str]) -> set[str]:
        """Holders that may have lost native coin. A pending transaction comes with its trace, so all of them;
        for a mined one, those whose balance fell over the block: two cached reads, and a trace only then."""
        if ctx.pending:
            return holders
        return {h for h in holders if (ctx.native_balance(h, ctx.at) or 0) < (ctx.native_balance(h, ctx.before) or 0)}

    @staticmethod
    def _balance(ctx: Context, token: str, holder: str) -> int | None:
        """`holder`'s balance of `token` (or of the native coin) before the event's block."""
        if token == NATIVE:
            return ctx.native_balance(holder, ctx.before)
        return ctx.balance_of(token, holder, ctx.before)

    @staticmethod
    def _value(ctx: Context, token: str, amount: int, native_asset: str) -> float | None:
        if token != NATIVE:
            return ctx.value(token, amount)
        proxy = ctx.registry.resolve(native_asset)
        return ctx.value(proxy.address, amount) if proxy else None

    @staticmethod
    def _usual(ctx: Context, past: list[float]) -> float | None:
        """The usual outflow (EWMA of past ones) once warmed up; None while warming up or when not checked."""
        p = ctx.params_of("unusual-outflow")
        if not ctx.enabled("unusual-outflow") or len(past) < p["warmup"]:
            return None
        return ewma(past, p["alpha"])[0]

    def _judge(self, ctx: Context, check: str, holder: str, token: str, outflow: int, start: int,
               usual: float | None, txs: int = 1):
        """A finding of `check` when the outflow crosses its share of the balance, else of unusual-outflow when it
        is far above the usual one; None when neither."""
        fraction = outflow / start if start > 0 else 1.0
        multiple = outflow / usual if usual else None
        p = ctx.params_of(check)
        if ctx.enabled(check) and fraction >= p["max_fraction"]:
            severity = Severity.CRITICAL if fraction >= p["critical_fraction"] else Severity.HIGH
        elif multiple is not None and multiple >= ctx.params_of("unusual-outflow")["usual_multiple"]:
            check, p, severity = "unusual-outflow", ctx.params_of("unusual-outflow"), Severity.MEDIUM
        else:
            return None
        value = self._value(ctx, token, outflow, p["native_asset"])
        if value is not None and value < p["min_value"]:
            severity = Severity.LOW
        name = ctx.registry.get(holder).name
        watched_token = ctx.registry.get(token)
        token_name = "native coin" if token == NATIVE else watched_token.name if watched_token else token
        return ctx.finding(
            check=check,
            title=f"{name} lost {fraction:.0%} of its {token_name}" + (f" over {txs} transactions" if txs > 1 else ""),
            severity=severity,
            description=(f"{outflow} units of {token_name} left {name} (balance before {start}); "
                         + (f"{multiple:.1f}x its usual outflow; " if multiple else "") + f"value {value if value is None else round(value, 2)}."),
            addresses=[holder, token] + ([ctx.tx.sender] if ctx.tx else []),
            evidence={"holder": name, "token": token, "outflow": str(outflow), "balance_before": str(start),
                      "fraction": fraction, "usual_multiple": multiple, "value": value, "txs": txs},
            labels={"actor": ctx.tx.sender} if ctx.tx else {}, key=f"{holder}:{token}",
        )

    def _block(self, ctx: Context, holders: set[str]):
        """Several transactions that each stay under the threshold but drain together."""
        limit = ctx.params_of("block")["max_fraction"]
        moves = ctx.transfers()
        per_tx: dict[str, list[Transfer]] = {}
        for move in moves:
            per_tx.setdefault(move.log.tx_hash, []).append(move)
        for (holder, token), outflow in net_flows(moves, holders).items():
            if outflow <= 0:
                continue
            start = ctx.balance_of(token, holder, ctx.before) or 0
            if start <= 0:
                continue
            singles = [net_flows(tx_moves, {holder}).get((holder, token), 0) for tx_moves in per_tx.values()]
            if max(singles) / start >= limit or outflow / start < limit:
                continue  # one tx alone already crossed the line (reported per tx), or the block is fine
            finding = self._judge(ctx, "block", holder, token, outflow, start, None, txs=sum(1 for s in singles if s > 0))
            if finding is not None:
                yield finding

    def _native_block(self, ctx: Context, holders: set[str]):
        """Native coin that left a holder over the block when no single transaction the rules saw explains it: a
        drain split over transactions, or one through contracts that reach the holder without any event."""
        limit = ctx.params_of("native-block")["max_fraction"]
        for holder in self._poorer(ctx, holders):
            start = ctx.native_balance(holder, ctx.before) or 0
            outflow = start - (ctx.native_balance(holder, ctx.at) or 0)
            if start <= 0 or outflow / start < limit:
                continue
            seen = set(ctx.txs) | {e.tx_hash for e in ctx.logs}
            singles = [native_flows(ctx.frames(tx_hash=h), {holder}).get((holder, NATIVE), 0) for h in seen]
            if any(single / start >= limit for single in singles):
                continue  # one transaction alone crossed the line: reported per transaction
            finding = self._judge(ctx, "native-block", holder, NATIVE, outflow, start, None,
                                  txs=max(1, sum(1 for single in singles if single > 0)))
            if finding is not None:
                yield finding

