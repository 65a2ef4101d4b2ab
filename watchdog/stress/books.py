"""What a holder's own ABI lets the stress run read about one account, and what it cannot.

There is no universal "liquidatable" view. A holder is read through the views it has, by what they answer:
- an account's equity: a view named like *equity* answering a signed number; else a position view with a *margin*
  output plus a *pnl* view; else a *debt* view against *collateral* views, collateral valued by the holder's own
  *value* view (its own pricing) or by the model's price;
- whether it can be liquidated: a *liquidate* function called from a liquidator (simulated; the first address
  argument is the account, the others are tried with the holder's market ids and the tokens it holds), else a
  boolean *liquidatable* view;
- what covers a loss: zero-argument views named like a pool, insurance fund or reserves, of the holder and of the
  contracts that work as one with it (a market and its vault).
Views are asked per account (`(address)`) or per account and key (`(bytes32 market, address)`, `(address token,
address)`). What a holder lacks is said in its `gaps`, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from watchdog.chain.abi import Function, decode_result, encode_call, static_functions
from watchdog.chain.rpc import RpcAnswerError
from watchdog.detect.model import Holder, ProtocolModel
from watchdog.stress.fork import Fork, actor

LIQUIDATOR = actor("liquidator")
LARGE = 2**128  # a repay amount above any debt: protocols cap it at what may be repaid
EQUITY = re.compile(r"equity", re.I)
PNL = re.compile(r"pnl|profit", re.I)
MARGIN = re.compile(r"margin|collateral", re.I)
DEBT = re.compile(r"debt|borrowbalance", re.I)
NOT_DEBT = re.compile(r"scaled|total|max|limit", re.I)
COLLATERAL = re.compile(r"collateral", re.I)
VALUE = re.compile(r"value", re.I)
FLAG = re.compile(r"liquidatable|canliquidate", re.I)
LIQUIDATE = re.compile(r"^liquidat", re.I)
BUFFER = re.compile(r"^(pool(ed)?assets|insurance\w*|total_?reserves?|reserves?|backstop\w*)$", re.I)


def functions(abi: list[dict[str, Any]]) -> tuple[list[Function], list[Function]]:
    """(views, state-changing functions) whose inputs and outputs are static values."""
    found = static_functions(abi)
    return [f for f in found if f.view], [f for f in found if not f.view]


@dataclass
class Account:
    """One account with one holder, read at one moment of the fork."""

    account: str
    equity: float | None = None       # in the quote asset
    debt: float | None = None
    collateral: float | None = None
    flagged: bool | None = None       # a view says it can be liquidated
    liquidatable: bool | None = None  # a liquidation call succeeds now
    calls: list[str] = field(default_factory=list)  # calldata of the liquidation calls that succeed
    open: bool = False                # it has something with the holder

    @property
    def bad_debt(self) -> float:
        return max(0.0, -self.equity) if self.equity is not None else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "equity": _round(self.equity), "debt": _round(self.debt),
                "collateral": _round(self.collateral), "flagged": self.flagged, "liquidatable": self.liquidatable,
                "bad_debt": round(self.bad_debt, 6)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


class Lens:
    """How one holder is read: the views and functions of its ABI that answer about an account."""

    def __init__(self, model: ProtocolModel, holder: Holder, abi: list[dict[str, Any]], unit_decimals: int,
                 prices: dict[str, float]) -> None:
        self.model, self.holder, self.unit = model, holder, 10**unit_decimals
        self.prices = prices  # token -> price in the quote asset now (for collateral the holder does not value itself)
        views, writes = functions(abi)
        keyed = [v for v in views if _per_account(v.inputs)]
        self.equity = [v for v in keyed if EQUITY.search(v.name) and v.outputs == ("int256",)]
        self.pnl = [v for v in keyed if PNL.search(v.name) and len(v.outputs) == 1 and v.outputs[0].startswith("int")]
        self.margin = [(v, i) for v in keyed if len(v.outputs) > 1 for i, label in enumerate(v.labels)
                       if MARGIN.search(label) and v.outputs[i].startswith("uint")][:1]
        self.debt = sorted((v for v in views if v.inputs == ("address",) and v.outputs == ("uint256",)
                            and DEBT.search(v.name) and not NOT_DEBT.search(v.name)), key=lambda v: len(v.name))[:1]
        self.collateral = [v for v in views if v.inputs == ("address", "address") and v.outputs == ("uint256",)
                           and COLLATERAL.search(v.name)]
        self.value = next((v for v in views if v.inputs == ("address", "uint256") and v.outputs == ("uint256",)
                           and VALUE.search(v.name)), None)
        self.flags = [v for v in keyed if FLAG.search(v.name) and v.outputs == ("bool",)]
        self.liquidations = [f for f in writes if LIQUIDATE.match(f.name) and "address" in f.inputs]
        self.buffers = [v for v in views if not v.inputs and v.outputs == ("uint256",) and BUFFER.match(v.name)]
        self.keys: dict[str, list[Any]] = {"bytes32": [bytes.fromhex(i[2:]) for i in holder.ids],
                                           "address": sorted(holder.holds)}

    # -- what it can tell ------------------------------------------------------------------------------------
    def methods(self) -> dict[str, str | None]:
        """How equity and liquidations are read for this holder (None: they cannot be)."""
        if self.equity:
            equity: str | None = " + ".join(v.signature.split(")(")[0] + ")" for v in self.equity)
        elif self.margin and self.pnl:
            equity = f"{self.margin[0][0].name}().{self.margin[0][0].labels[self.margin[0][1]]} + {self.pnl[0].name}()"
        elif self.debt and self.collateral:
            equity = (f"{' + '.join(v.name for v in self.collateral)} valued by "
                      f"{self.value.name + '()' if self.value else 'the model prices'} - {self.debt[0].name}()")
        else:
            equity = None
        if self.liquidations:
            liquidation: str | None = " / ".join(f.signature.split(")(")[0] + ")" for f in self.liquidations) + " simulated"
        elif self.flags:
            liquidation = " / ".join(v.name + "()" for v in self.flags) + " view"
        else:
            liquidation = None
        return {"equity": equity, "liquidation": liquidation}

    def gaps(self) -> list[str]:
        ways = self.methods()
        out = []
        if ways["equity"] is None:
            out.append("no view gives an account's equity (an equity view, margin with pnl, or debt with collateral): "
                       "bad debt not evaluated")
        if ways["liquidation"] is None:
            out.append("no liquidation function or liquidatable view: liquidations not evaluated")
        return out

    # -- reading accounts ------------------------------------------------------------------------------------
    def read(self, fork: Fork, accounts: list[str]) -> list[Account]:
        """Every account that has something with the holder, read now (one batch of calls, two with collateral)."""
        plan: list[tuple[str, str, Function, tuple[Any, ...], str | None]] = []  # (account, role, fn, args, sender)
        for account in accounts:
            for fn in self.equity:
                plan += [(account, "equity", fn, a, None) for a in self._args(fn.inputs, account)]
            for fn, _ in self.margin:
                plan += [(account, "margin", fn, a, None) for a in self._args(fn.inputs, account)]
            for fn in self.pnl[:1] if self.margin else []:
                plan += [(account, "pnl", fn, a, None) for a in self._args(fn.inputs, account)]
            for fn in self.debt:
                plan.append((account, "debt", fn, (account,), None))
            for fn in self.collateral:
                plan += [(account, "collateral", fn, (account, token), None) for token in self.keys["address"]]
            for fn in self.flags:
                plan += [(account, "flag", fn, a, None) for a in self._args(fn.inputs, account)]
            for fn in self.liquidations:
                plan += [(account, "liquidate", fn, a, LIQUIDATOR) for a in self._liquidation_args(fn.inputs, account)]
        answers = fork.raw_calls([(self.holder.address, encode_call(fn.signature, list(args)), sender)
                                  for _, _, fn, args, sender in plan])
        states = {a: Account(a) for a in accounts}
        held: list[tuple[str, str, int]] = []  # (account, token, amount) of collateral to value
        sums: dict[tuple[str, str], float] = {}
        for (account, role, fn, args, _), answer in zip(plan, answers):
            state = states[account]
            if role == "liquidate":
                ok = isinstance(answer, str)
                state.liquidatable = bool(state.liquidatable) or ok
                if ok:
                    state.calls.append(encode_call(fn.signature, list(args)))
                continue
            values = _decode(fn, answer)
            if values is None:
                continue
            if role == "flag":
                state.flagged = bool(state.flagged) or bool(values[0])
            elif role == "margin":
                index = next(i for f, i in self.margin if f == fn)
                sums[(account, "margin")] = sums.get((account, "margin"), 0) + values[index]
                state.open = state.open or any(values)
            elif role == "collateral" and values[0]:
                held.append((account, args[1], int(values[0])))
            elif role != "collateral":
                sums[(account, role)] = sums.get((account, role), 0) + values[0]
                state.open = state.open or bool(values[0])
        for account, token, amount in held:
            states[account].open = True
        collateral = self._collateral(fork, held)
        for account, state in states.items():
            state.equity, state.debt, state.collateral = self._equity(account, sums, collateral)
        return [s for s in states.values() if s.open]

    def _equity(self, account: str, sums: dict[tuple[str, str], float],
                collateral: dict[str, float]) -> tuple[float | None, float | None, float | None]:
        if self.equity:
            return sums.get((account, "equity"), 0) / self.unit, None, None
        if self.margin and self.pnl:
            return (sums.get((account, "margin"), 0) + sums.get((account, "pnl"), 0)) / self.unit, None, None
        if self.debt and self.collateral:
            debt = sums.get((account, "debt"), 0) / self.unit
            held = collateral.get(account, 0.0)
            return held - debt, debt, held
        return None, None, None

    def _collateral(self, fork: Fork, held: list[tuple[str, str, int]]) -> dict[str, float]:
        """Account -> its collateral's value in the quote asset: the holder's own valuation, else the model's price."""
        out: dict[str, float] = {}
        if self.value is not None:
            answers = fork.raw_calls([(self.holder.address, encode_call(self.value.signature, [token, amount]), None)
                                      for _, token, amount in held])
            for (account, _, _), answer in zip(held, answers):
                values = _decode(self.value, answer)
                out[account] = out.get(account, 0.0) + (values[0] / self.unit if values else 0.0)
            return out
        for account, token, amount in held:
            price = 1.0 if token == self.model.quote else self.prices.get(token, 0.0)
            out[account] = out.get(account, 0.0) + amount / 10 ** fork.decimals(token) * price
        return out

    def _args(self, inputs: tuple[str, ...], account: str) -> list[tuple[Any, ...]]:
        if inputs == ("address",):
            return [(account,)]
        return [(key, account) for key in self.keys.get(inputs[0], [])]

    def _liquidation_args(self, inputs: tuple[str, ...], account: str) -> list[tuple[Any, ...]]:
        """Every argument list to try: the account at the first address, keys and tokens elsewhere."""
        options: list[list[Any]] = []
        first = inputs.index("address")
        for n, kind in enumerate(inputs):
            if n == first:
                options.append([account])
            elif kind.startswith("uint"):
                options.append([min(LARGE, 2 ** int(kind[4:] or 256) - 1)])
            elif kind == "bool":
                options.append([False])
            else:
                options.append(self.keys.get(kind, []))
        combos: list[tuple[Any, ...]] = [()]
        for choice in options:
            combos = [c + (v,) for c in combos for v in choice]
        return combos

    def buffer(self, fork: Fork, partners: dict[str, "Lens"]) -> dict[str, float]:
        """`holder.view` -> value, of the holder's and its partners' loss-absorbing views, in the quote asset."""
        out = {}
        for lens in [self, *partners.values()]:
            for view in lens.buffers:
                values = fork.read(lens.holder.address, view.signature)
                if values is not None:
                    out[f"{lens.holder.name}.{view.name}"] = values[0] / lens.unit
        return out


def _per_account(inputs: tuple[str, ...]) -> bool:
    return inputs == ("address",) or (len(inputs) == 2 and inputs[1] == "address" and inputs[0] in ("bytes32", "address"))


def _decode(fn: Function, answer: str | RpcAnswerError) -> tuple[Any, ...] | None:
    if not isinstance(answer, str) or answer in ("", "0x"):
        return None
    try:
        return decode_result(fn.signature, answer)
    except Exception:  # an answer of another shape than the ABI says
        return None
