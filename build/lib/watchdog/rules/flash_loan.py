"""flash-loan: a transaction borrows and repays within itself (lender events, flash-swap callbacks in the
trace, or the generic borrow-and-repay pattern in its transfers). Severity rises when the same transaction
touches the watched protocol and when its estimated profit passes the published floors."""

from __future__ import annotations

from eth_abi import decode

from watchdog.detect import Context, EventSpec, Rule, Severity, Trigger, selector, topic
from watchdog.detect.abi import transfer_of

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
SPECS = {name: EventSpec.parse(sig) for name, sig in LENDER_EVENTS.items()}

# Borrower callbacks: selector -> (name, decoder of (token-or-None, amount...) from calldata).
CALLBACKS = {
    selector("uniswapV2Call(address,uint256,uint256,bytes)"): "uniswapV2Call",
    selector("pancakeCall(address,uint256,uint256,bytes)"): "pancakeCall",
    selector("uniswapV3FlashCallback(uint256,uint256,bytes)"): "uniswapV3FlashCallback",
    selector("executeOperation(address[],uint256[],uint256[],address,bytes)"): "executeOperation",
    selector("executeOperation(address,uint256,uint256,address,bytes)"): "executeOperation",
    selector("receiveFlashLoan(address[],uint256[],uint256[],bytes)"): "receiveFlashLoan",
    selector("onFlashLoan(address,address,uint256,uint256,bytes)"): "onFlashLoan",
    selector("DVMFlashLoanCall(address,uint256,uint256,bytes)"): "DVMFlashLoanCall",
}
PAIR_CALLBACKS = {"uniswapV2Call", "pancakeCall", "DVMFlashLoanCall"}
SWAP_V2 = topic("Swap(address,uint256,uint256,uint256,uint256,address)")


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
    }
    triggers = frozenset({Trigger.TX, Trigger.PENDING})
    topics = tuple(LENDER_EVENTS.values())

    def evaluate(self, ctx: Context):
        logs = ctx.tx_logs()
        loans = self._event_loans(ctx, logs) + self._callback_loans(ctx)
        if not loans:
            loans = self._transfer_loans(ctx, logs)
        if not loans:
            return
        lenders = {loan["lender"] for loan in loans}
        borrowers = {loan["borrower"] for loan in loans if loan["borrower"]}
        core = [w for w in ctx.registry.core_touched(ctx.touched()) if w.address not in lenders]
        borrowed = _sum([ctx.value(l["token"], l["amount"]) if l["token"] else None for l in loans])
        profit, flows = self._profit(ctx, logs, borrowers | {ctx.tx.sender} | ({ctx.tx.to} if ctx.tx.to else set()))
        p = self.params
        if not core and borrowed is not None and borrowed < p["min_loan_value"]:
            return
        profitable = profit is not None and profit >= p["min_profit"] and (not borrowed or profit > p["profit_ratio"] * borrowed)
        if core:
            severity = Severity.CRITICAL if profitable and profit >= p["high_profit"] else (
                Severity.HIGH if profitable else Severity.MEDIUM)
        else:
            severity = Severity.MEDIUM if profitable and profit >= p["high_profit"] else (
                Severity.LOW if profitable else Severity.INFO)
        kinds = sorted({loan["kind"] for loan in loans})
        where = f" and called {', '.join(w.name for w in core)}" if core else ""
        yield ctx.finding(
            title=f"Flash loan ({', '.join(kinds)}){' touching ' + core[0].name if core else ''}",
            severity=severity,
            confidence=max(loan["confidence"] for loan in loans),
            description=(f"{ctx.tx.sender} borrowed through {len(loans)} flash loan(s){where}; "
                         f"estimated profit {_fmt(profit)} on {_fmt(borrowed)} borrowed (quote units)."),
            addresses=[ctx.tx.sender, *borrowers, *lenders, *(w.address for w in core)],
            evidence={"loans": [{**l, "amount": str(l["amount"])} for l in loans], "borrowed_value": borrowed,
                      "profit_estimate": profit, "net_flows": flows, "protocol_contracts": [w.name for w in core]},
            labels={"actor": ctx.tx.sender, **({"stage": "exploitation"} if core else {})},
        )

    # -- loan sources --------------------------------------------------------------------------------
    def _event_loans(self, ctx: Context, logs) -> list[dict]:
        loans = []
        for entry in logs:
            for kind, spec in SPECS.items():
                args = spec.decode(entry)
                if args is None:
                    continue
                if kind == "uniswap-v3":
                    tokens = ctx.pair_tokens(entry.address) or (None, None)
                    for token, amount in zip(tokens, (args["amount0"], args["amount1"])):
                        if amount:
                            loans.append(_loan(kind, entry.address, args["recipient"], token, amount, 0.9))
                elif kind == "dodo":
                    loans.append(_loan(kind, entry.address, args["assetTo"], None, args["baseAmount"] + args["quoteAmount"], 0.8))
                elif kind == "iron-bank":
                    underlying = ctx.read(entry.address, "underlying()(address)")
                    loans.append(_loan(kind, entry.address, args["receiver"], underlying[0] if underlying else None, args["amount"], 0.9))
                else:
                    token = args.get("asset") or args.get("token")
                    borrower = args.get("target") or args.get("recipient") or args.get("receiver")
                    loans.append(_loan(kind, entry.address, borrower, token, args["amount"], 0.95))
                break
        return loans

    def _callback_loans(self, ctx: Context) -> list[dict]:
        if not ctx.pending and not any(e.topics and e.topics[0] == SWAP_V2 for e in ctx.tx_logs()):
            return []  # a pair's flash swap always emits Swap: no Swap, no need to trace
        trace = ctx.trace
        if trace is None:
            return []
        loans = []
        for frame in trace.walk():
            name = CALLBACKS.get(frame.input[:10])
            if name not in PAIR_CALLBACKS or frame.error:
                continue  # other callbacks come with their lender's event, decoded above
            _, amount0, amount1, _ = decode(["address", "uint256", "uint256", "bytes"], bytes.fromhex(frame.input[10:]))
            tokens = ctx.pair_tokens(frame.sender) or (None, None)
            for token, amount in zip(tokens, (amount0, amount1)):
                if amount:
                    loans.append(_loan(f"flash-swap:{name}", frame.sender, frame.to, token, amount, 0.9))
        return loans

    def _transfer_loans(self, ctx: Context, logs) -> list[dict]:
        """Generic: X sends amount A of a token to Y, later in the same tx Y's side pays X back at least A."""
        moves = [(e.address, *move) for e in logs if (move := transfer_of(e))]
        loans = []
        for i, (token, lender, borrower, amount) in enumerate(moves):
            if lender == ctx.tx.sender or amount == 0 or lender == "0x" + "0" * 40 or ctx.registry.is_core(borrower):
                continue  # funds parked in the protocol and taken back are a deposit, not a loan
            back = sum(v for t, f, to, v in moves[i + 1:] if t == token and to == lender and f != lender)
            if back >= amount and any(t == token and f == borrower for t, f, _, _ in moves[i + 1:]):
                loans.append(_loan("borrow-repay", lender, borrower, token, amount, 0.6))
        return loans[:1] if loans else []

    # -- profit --------------------------------------------------------------------------------------
    def _profit(self, ctx: Context, logs, beneficiaries: set[str]) -> tuple[float | None, dict[str, str]]:
        """Net token flows into the sender and its contracts, valued in the quote asset."""
        net: dict[str, int] = {}
        for e in logs:
            move = transfer_of(e)
            if move is None:
                continue
            src, dst, value = move
            if dst in beneficiaries and src not in beneficiaries:
                net[e.address] = net.get(e.address, 0) + value
            elif src in beneficiaries and dst not in beneficiaries:
                net[e.address] = net.get(e.address, 0) - value
        values = [ctx.value(token, amount) for token, amount in net.items() if amount]
        return _sum(values), {token: str(amount) for token, amount in net.items() if amount}


def _loan(kind: str, lender: str, borrower: str | None, token: str | None, amount: int, confidence: float) -> dict:
    return {"kind": kind, "lender": lender.lower(), "borrower": (borrower or "").lower() or None,
            "token": token.lower() if token else None, "amount": int(amount), "confidence": confidence}


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.2f}"
