"""flash-loan: a transaction borrows and repays within itself (lender events, flash-swap callbacks in the
trace, or the generic borrow-and-repay pattern in its transfers). Severity rises when the same transaction
touches the watched protocol and when its estimated profit passes the published floors; a profitable call into
the protocol that moved no price the protocol reads (a flash-funded liquidation, a leverage loop), as the
protocol model tells, stays at medium."""

from __future__ import annotations

from watchdog.detect import Check, Context, Rule, Severity
from watchdog.detect.model.prices import outlier, read_prices

# (name, human signature): every lender event shape the rule knows; topic0 collisions differ by indexing.
LENDER_EVENTS = {
    "aave-v3": "FlashLoan(address indexed target, address initiator, address indexed asset, uint256 amount, uint8 interestRateMode, uint256 premium, uint16 indexed referralCode)",
    "aave-v2": "FlashLoan(address indexed target, address indexed initiator, address indexed asset, uint256 amount, uint256 premium, uint16 referralCode)",
    "balancer-v2": "FlashLoan(address indexed recipient, address indexed token, uint256 amount, uint256 feeAmount)",
    "maker-dssflash": "FlashLoan(address indexed receiver, address token, uint256 amount, uint256 fee)",
    "uniswap-v3": "Flash(address indexed sender, address indexed recipient, uint256 amount0, uint256 amount1, uint256 paid0, uint256 paid1)",
    "iron-bank": "Flashloan(address indexed receiver, uint256 amount, uint256 totalFee, uint256 reservesFee)",
    "dodo": "DODOFlashLoan(address borrower, address assetTo, uint256 baseAmount, uint256 quoteAmount)",
}

# Flash-swap callbacks a pair calls on the borrower: (sender, amount0, amount1, data). Other lenders' callbacks
# (executeOperation, receiveFlashLoan, onFlashLoan, uniswapV3FlashCallback) come with their lender's event.
PAIR_CALLBACKS = {
    "uniswapV2Call": "uniswapV2Call(address,uint256,uint256,bytes)",
    "pancakeCall": "pancakeCall(address,uint256,uint256,bytes)",
    "DVMFlashLoanCall": "DVMFlashLoanCall(address,uint256,uint256,bytes)",
}
SWAP_V2 = ("Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, "
           "uint256 amount1Out, address indexed to)")
PROFIT = ("min_profit", "profit_ratio", "high_profit")
HONEST = ("move_threshold", "divergence")


class FlashLoan(Rule):
    id = "flash-loan"
    title = "Flash loan"
    severity = Severity.LOW
    confidence = 0.8
    description = ("A transaction took a flash loan (lender event, flash-swap callback or borrow-and-repay of the "
                   "same amount). Alone it is routine for arbitrage; with a call into the protocol and a profit "
                   "above the floors it is the usual first stage of an exploit.")
    references = ("Published flash-loan detection heuristics: lender events, flash-swap callbacks, profit > 1.3 % "
                  "of the loan and >= 1k (high above 100k)",)
    params = {
        "min_profit": 1_000.0,        # quote units; below this a profit is noise (alerts fired on $22 before)
        "profit_ratio": 0.013,        # profit / borrowed value
        "high_profit": 100_000.0,     # quote units: critical when the protocol was touched
        "min_loan_value": 1_000.0,    # loans smaller than this that do not touch the protocol are ignored
        "move_threshold": 0.10,       # a price the protocol reads moved this much inside the transaction
        "divergence": 0.25,           # or left this far off the other sources of its asset
    }
    checks = {
        "protocol": Check("Flash loan into the protocol", Severity.HIGH, (*PROFIT, *HONEST),
                          "A flash-loan transaction called a core contract of the protocol: medium, high with a "
                          "profit of min_profit and profit_ratio of the loan, critical from high_profit; medium "
                          "whatever the profit when no price the called contracts read (protocol model) moved "
                          "move_threshold inside it or stands divergence off its peers after it."),
        "outside": Check("Flash loan outside the protocol", Severity.INFO, (*PROFIT, "min_loan_value"),
                         "A flash-loan transaction that never called the protocol (arbitrage, mostly): info, low "
                         "when profitable, medium from high_profit; loans under min_loan_value are ignored."),
    }
    topics = tuple(LENDER_EVENTS.values())
    needs = {"trace": "flash swaps (the pair calls back the borrower: no lender event)"}

    def on_tx(self, ctx: Context):
        loans = self._event_loans(ctx) + self._callback_loans(ctx)
        if not loans:
            loans = self._transfer_loans(ctx)
        if not loans:
            return
        lenders = {loan["lender"] for loan in loans}
        borrowers = {loan["borrower"] for loan in loans if loan["borrower"]}
        core = [w for w in ctx.registry.core_touched(ctx.touched()) if w.address not in lenders]
        check = "protocol" if core else "outside"
        if not ctx.enabled(check):
            return
        p = ctx.params_of(check)
        borrowed = _sum([ctx.value(l["token"], l["amount"]) if l["token"] else None for l in loans])
        if not core and borrowed is not None and borrowed < p["min_loan_value"]:
            return
        profit, flows = self._profit(ctx, borrowers | {ctx.tx.sender} | ({ctx.tx.to} if ctx.tx.to else set()))
        profitable = profit is not None and profit >= p["min_profit"] and (not borrowed or profit > p["profit_ratio"] * borrowed)
        moved = self._moved_prices(ctx, [w.address for w in core]) if core and profitable else None
        if core and moved == []:
            severity = Severity.MEDIUM  # paid by the protocol at honest prices: a liquidation bonus, a loop
        elif core:
            severity = Severity.CRITICAL if profitable and profit >= p["high_profit"] else (
                Severity.HIGH if profitable else Severity.MEDIUM)
        else:
            severity = Severity.MEDIUM if profitable and profit >= p["high_profit"] else (
                Severity.LOW if profitable else Severity.INFO)
        kinds = sorted({loan["kind"] for loan in loans})
        where = f" and called {', '.join(w.name for w in core)}" if core else ""
        yield ctx.finding(
            check=check, title=f"Flash loan ({', '.join(kinds)}){' touching ' + core[0].name if core else ''}",
            severity=severity,
            confidence=max(loan["confidence"] for loan in loans),
            description=(f"{ctx.tx.sender} borrowed through {len(loans)} flash loan(s){where}; "
                         f"estimated profit {_fmt(profit)} on {_fmt(borrowed)} borrowed (quote units)."),
            addresses=[ctx.tx.sender, *borrowers, *lenders, *(w.address for w in core)],
            evidence={"loans": [{**l, "amount": str(l["amount"])} for l in loans], "borrowed_value": borrowed,
                      "profit_estimate": profit, "net_flows": flows, "protocol_contracts": [w.name for w in core],
                      "prices_moved": moved},
            labels={"actor": ctx.tx.sender, **({"stage": "exploitation"} if core else {})},
        )

    on_pending = on_tx

    def needs_trace(self, ctx: Context) -> bool:
        # a flash swap shows in the trace (the pair calls the borrower back), and a loan's reach into the protocol
        return _paid_out_first(ctx) or bool(self._event_loans(ctx)) or bool(self._transfer_loans(ctx))

    @staticmethod
    def _moved_prices(ctx: Context, called: list[str]) -> list[str] | None:
        """The prices the called holders read that the transaction moved (or left off their peers), as the model
        knows them; None when the model knows none of their prices."""
        model = ctx.model
        holders = [model.holders[a] for a in called if model and a in model.holders]
        if not holders:
            return None
        p = ctx.params_of("protocol")
        read = {s for holder in holders for use in holder.uses for s in model.reads(use.source)}
        if not read:
            return None  # the model knows no price they read: the profit alone speaks
        known = {}
        for address in read:
            source = model.sources[address]
            if source.kind == "pair" and ctx.registry.get(address) is not None:
                path = ctx.price_path(address, source.base)
                if path:
                    known[address] = path.prices[-1]
        prices = read_prices(model, ctx.scope.reads, ctx.at, read, known=known)
        out = []
        for address in sorted(read):
            source = model.sources[address]
            off = outlier(model, source, prices)
            move = ctx.largest_move(address, source.base) if source.kind == "pair" else 0.0
            if abs(move) >= p["move_threshold"] or (off is not None and abs(off.gap) >= p["divergence"]):
                out.append(source.name)
        return out

    # -- loan sources --------------------------------------------------------------------------------
    def _event_loans(self, ctx: Context) -> list[dict]:
        found = []
        for kind, signature in LENDER_EVENTS.items():
            for event in ctx.events(signature):
                found += [((event.log.tx_index, event.log.log_index), loan) for loan in self._loans_of(ctx, kind, event)]
        return [loan for _, loan in sorted(found, key=lambda x: x[0])]

    @staticmethod
    def _loans_of(ctx: Context, kind: str, event) -> list[dict]:
        args, lender = event.args, event.address
        if kind == "uniswap-v3":
            tokens = ctx.pair_tokens(lender) or (None, None)
            return [_loan(kind, lender, args["recipient"], token, amount, 0.9)
                    for token, amount in zip(tokens, (args["amount0"], args["amount1"])) if amount]
        if kind == "dodo":
            return [_loan(kind, lender, args["assetTo"], None, args["baseAmount"] + args["quoteAmount"], 0.8)]
        if kind == "iron-bank":
            underlying = ctx.read(lender, "underlying()(address)")
            return [_loan(kind, lender, args["receiver"], underlying[0] if underlying else None, args["amount"], 0.9)]
        token = args.get("asset") or args.get("token")
        borrower = args.get("target") or args.get("recipient") or args.get("receiver")
        return [_loan(kind, lender, borrower, token, args["amount"], 0.95)]

    @staticmethod
    def _callback_loans(ctx: Context) -> list[dict]:
        if not ctx.pending and not _paid_out_first(ctx):
            return []  # a pair's flash swap pays out before it is paid: otherwise no need to trace
        loans = []
        for name, signature in PAIR_CALLBACKS.items():
            for call in ctx.calls(signature):
                _, amount0, amount1, _ = call.args
                tokens = ctx.pair_tokens(call.frame.sender) or (None, None)
                loans += [_loan(f"flash-swap:{name}", call.frame.sender, call.frame.to, token, amount, 0.9)
                          for token, amount in zip(tokens, (amount0, amount1)) if amount]
        return loans

    @staticmethod
    def _transfer_loans(ctx: Context) -> list[dict]:
        """Generic: X sends amount A of a token to Y, later in the same tx Y's side pays X back at least A."""
        moves = ctx.transfers()
        for i, move in enumerate(moves):
            lender, borrower = move.sender, move.recipient
            if lender == ctx.tx.sender or move.value == 0 or lender == "0x" + "0" * 40 or ctx.registry.is_core(borrower):
                continue  # funds parked in the protocol and taken back are a deposit, not a loan
            later = [m for m in moves[i + 1:] if m.token == move.token]
            back = sum(m.value for m in later if m.recipient == lender and m.sender != lender)
            if back >= move.value and any(m.sender == borrower for m in later):
                return [_loan("borrow-repay", lender, borrower, move.token, move.value, 0.6)]
        return []

    # -- profit --------------------------------------------------------------------------------------
    @staticmethod
    def _profit(ctx: Context, beneficiaries: set[str]) -> tuple[float | None, dict[str, str]]:
        """Net token flows into the sender and its contracts, valued in the quote asset."""
        net: dict[str, int] = {}
        for move in ctx.transfers():
            if move.recipient in beneficiaries and move.sender not in beneficiaries:
                net[move.token] = net.get(move.token, 0) + move.value
            elif move.sender in beneficiaries and move.recipient not in beneficiaries:
                net[move.token] = net.get(move.token, 0) - move.value
        values = [ctx.value(token, amount) for token, amount in net.items() if amount]
        return _sum(values), {token: str(amount) for token, amount in net.items() if amount}


def _paid_out_first(ctx: Context) -> bool:
    """Whether a V2 pair of the transaction paid a swap's output before its input arrived (a flash swap: the pair
    calls the borrower back in between), as the transaction's Transfer logs tell. A swap whose input came first, as
    through a router, calls nobody back. Without a Transfer into the pair before the Swap, it may have."""
    moves = ctx.transfers()
    opened: dict[str, int] = {}  # pair -> log index after which its current swap's transfers start
    for swap in ctx.events(SWAP_V2):
        pair, at = swap.address, swap.log.log_index
        window = [m for m in moves if opened.get(pair, -1) < m.log.log_index < at]
        opened[pair] = at
        paid_in = [m.log.log_index for m in window if m.recipient == pair]
        paid_out = [m.log.log_index for m in window if m.sender == pair]
        if not paid_in or (paid_out and min(paid_out) < min(paid_in)):
            return True
    return False


def _loan(kind: str, lender: str, borrower: str | None, token: str | None, amount: int, confidence: float) -> dict:
    return {"kind": kind, "lender": lender.lower(), "borrower": (borrower or "").lower() or None,
            "token": token.lower() if token else None, "amount": int(amount), "confidence": confidence}


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.2f}"
