"""A stress run: fork the chain at its head, learn the protocol model there, find the protocols' accounts, read them
once as they are, then play each scenario from that same state (a snapshot reverted after each) and measure what it
does: positions that become liquidatable, liquidations executed and their collateral sold through the real pools,
bad debt, what covers it, and each protocol's value at risk in the quote asset."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.redaction import redact_url
from watchdog.detect.model import ProtocolModel, Prober
from watchdog.detect.model.books import share_price
from watchdog.detect.model.prices import honest_price, read_prices
from watchdog.detect.model.risk import value_at_risk
from watchdog.detect.reads import ChainReads
from watchdog.detect.registry import ProtocolRegistry
from watchdog.errors import ConfigError
from watchdog.forensics.flows import token_moves
from watchdog.manifest import Manifest
from watchdog.stress import moves
from watchdog.stress.accounts import deployed_at, named_accounts
from watchdog.stress.books import LIQUIDATOR, Account, Lens
from watchdog.stress.fork import Fork
from watchdog.stress.plan import Steps, resolve
from watchdog.stress.scenarios import Scenario

log = logging.getLogger(__name__)
LIQUIDATOR_CASH = 10**12  # whole quote tokens the liquidator holds on the fork
MAX_ROUNDS = 10           # liquidations of one account (protocols that close a part of the debt at a time)
HOLD_STEPS = 4            # a hold is played in this many steps, the TWAPs updated after each


@dataclass
class StressOptions:
    from_block: int | None = None  # where the accounts' logs are read from (default: the holders' deployment)
    max_slippage: float = 0.05     # the price fall up to which the pools are said to absorb a sale
    hold: int | None = None        # seconds each scenario lasts, unless it says otherwise
    accounts: list[str] = field(default_factory=list)  # more accounts to read than the logs name


class StressRun:
    """`StressRun(manifest, rpc_url).run(scenarios)`: the report as a JSON-ready dict."""

    def __init__(self, manifest: Manifest, rpc_url: str, options: StressOptions | None = None) -> None:
        self.manifest, self.rpc_url = manifest, rpc_url
        self.options = options or StressOptions()
        self.registry = ProtocolRegistry(manifest)

    def run(self, scenarios: list[Scenario]) -> dict[str, Any]:
        started = time.monotonic()
        upstream = RpcClient(self.rpc_url, retries=1, timeout=30.0)
        try:
            chain_id = int(upstream.call("eth_chainId"), 16)
            if chain_id != self.manifest.chain_id:
                raise ConfigError(f"the node at {redact_url(self.rpc_url)} serves chain {chain_id} but the manifest is for chain "
                                  f"{self.manifest.chain_id}: point --rpc at the chain the manifest describes")
            head = int(upstream.call("eth_blockNumber"), 16)
            with Fork(self.rpc_url, head, chain_id) as fork:
                world = Forked.learn(fork, self.registry, self.manifest, head)
                steps = [resolve(s, world.model, self.manifest, self.options.hold) for s in scenarios]
                world.find_accounts(upstream, self.options)
                world.arm_liquidator()
                baseline = world.evaluate()
                report = world.header(head, chain_id, baseline)
                snapshot = fork.snapshot()
                for step in steps:
                    report["scenarios"].append(world.play(step, baseline, self.options))
                    fork.revert(snapshot)
                    snapshot = fork.snapshot()
        finally:
            upstream.close()
        report["seconds"] = round(time.monotonic() - started, 2)
        return report


@dataclass
class Reading:
    """Every holder's accounts, read at one moment of the fork."""

    accounts: dict[str, list[Account]]

    def liquidatable(self, holder: str) -> set[str]:
        return {a.account for a in self.accounts.get(holder, []) if a.liquidatable or (a.liquidatable is None and a.flagged)}

    def flagged(self, holder: str) -> set[str]:
        return {a.account for a in self.accounts.get(holder, []) if a.flagged}

    def by_account(self, holder: str) -> dict[str, Account]:
        return {a.account: a for a in self.accounts.get(holder, [])}


class Forked:
    """The forked chain, the protocol model learned on it, the holders' accounts, and a lens on each holder."""

    def __init__(self, fork: Fork, manifest: Manifest, model: ProtocolModel, head: int) -> None:
        self.fork, self.manifest, self.model, self.head = fork, manifest, model, head
        self.lenses: dict[str, Lens] = {}
        self.accounts: dict[str, list[str]] = {}
        self.baseline_risk: dict[str, float | None] = {}
        self.baseline_shares: dict[str, float | None] = {}
        for holder in model.holders.values():
            entry = next((c for c in manifest.contracts if c.address.lower() == holder.address), None)
            if entry is None:
                continue
            unit = holder.accounting or model.quote
            self.lenses[holder.address] = Lens(model, holder, manifest.abi_of(entry), fork.decimals(unit) if unit else 18, {})

    @classmethod
    def learn(cls, fork: Fork, registry: ProtocolRegistry, manifest: Manifest, head: int) -> "Forked":
        reads = ChainReads(BlockReader(fork.client, "stress"), {})
        empty = [w.name for w in registry.role("market", "vault", "lending") if reads.reader.code(w.address, head) in ("", "0x")]
        if empty:
            raise ConfigError(f"no code at {', '.join(empty)} at block {head}: point --rpc at the chain the manifest "
                              "describes, or check it with `watchdog manifest check`")
        model = Prober(registry, reads, head).learn()
        if not model.holders:
            raise ConfigError("the manifest has no contract with role market, vault or lending: nothing to stress")
        return cls(fork, manifest, model, head)

    # -- preparation -----------------------------------------------------------------------------------------
    def find_accounts(self, upstream: RpcClient, options: StressOptions) -> None:
        """Each holder's accounts: named in the logs of the holder or of the contracts it works as one with."""
        groups = {h: [h, *self.model.system(h)] for h in self.lenses}
        emitters = {e for group in groups.values() for e in group}
        first = options.from_block if options.from_block is not None else min(
            deployed_at(upstream, h, self.head) for h in emitters)
        named = named_accounts(upstream, emitters, first, self.head)
        known = set(self.model.holders) | set(self.model.sources) | set(self.model.tokens) | {LIQUIDATOR, moves.MOVER}
        extra = [a.lower() for a in options.accounts]
        for holder, group in groups.items():
            found = set().union(*(named.get(e, set()) for e in group)) | set(extra)
            self.accounts[holder] = sorted(found - known)

    def arm_liquidator(self) -> None:
        """The liquidator holds plenty of each holder's accounting token and has approved the holders."""
        for lens in self.lenses.values():
            if not lens.liquidations:
                continue
            token = lens.holder.accounting or self.model.quote
            if token is None:
                continue
            self.fork.deal(token, LIQUIDATOR, LIQUIDATOR_CASH * lens.unit)
            for spender in [lens.holder.address, *self.model.system(lens.holder.address)]:
                self.fork.approve(LIQUIDATOR, token, spender)

    # -- reading -------------------------------------------------------------------------------------------
    def prices(self) -> dict[str, float]:
        """Token -> its honest price in the quote asset now (the median of its feeds and pools)."""
        reads = ChainReads(BlockReader(self.fork.client, "stress"), {})
        prices = read_prices(self.model, reads, "latest")
        return {t: p for t in self.model.tokens if (p := honest_price(self.model, prices, t)) is not None}

    def source_prices(self) -> dict[str, float | None]:
        reads = ChainReads(BlockReader(self.fork.client, "stress"), {})
        return read_prices(self.model, reads, "latest")

    def evaluate(self) -> Reading:
        prices = self.prices()
        out = {}
        for holder, lens in self.lenses.items():
            lens.prices = prices
            out[holder] = lens.read(self.fork, self.accounts.get(holder, []))
        return Reading(out)

    def at_risk(self) -> dict[str, float | None]:
        reads = ChainReads(BlockReader(self.fork.client, "stress"), {})
        return {h: value_at_risk(self.model, reads, h) for h in self.model.holders}

    def share_prices(self) -> dict[str, float | None]:
        """Holder -> the price of its share (its claim token) in the token its books are kept in."""
        reads = ChainReads(BlockReader(self.fork.client, "stress"), {})
        return {h.address: share_price(reads, self.model, h, "latest") for h in self.model.holders.values() if h.claim_token}

    def header(self, head: int, chain_id: int, baseline: Reading) -> dict[str, Any]:
        at_risk = self.at_risk()
        self.baseline_risk, self.baseline_shares = at_risk, self.share_prices()
        return {
            "chain_id": chain_id, "block": head, "quote": self.model.tokens.get(self.model.quote or "", None),
            "holders": [{"holder": h.name, "address": h.address, "protocol": h.protocol, "role": h.role,
                         "accounts": len(baseline.accounts.get(h.address, [])),
                         "accounts_named": len(self.accounts.get(h.address, [])),
                         "methods": lens.methods(), "gaps": lens.gaps(),
                         "liquidatable": sorted(baseline.liquidatable(h.address)),
                         "value_at_risk": at_risk.get(h.address)}
                        for h in self.model.holders.values() if (lens := self.lenses.get(h.address))],
            "value_at_risk": _per_protocol(self.model, at_risk),
            "scenarios": [],
        }

    # -- one scenario --------------------------------------------------------------------------------------
    def play(self, steps: Steps, baseline: Reading, options: StressOptions) -> dict[str, Any]:
        fork, model = self.fork, self.model
        touched = {m.source.address for m in [*steps.moves, *steps.frozen]}
        before = self.source_prices()
        now = fork.now()
        moved = {m.source.address: moves.set_source(fork, m.source, m.target(before.get(m.source.address) or 0.0), now)
                 for m in steps.moves if before.get(m.source.address)}
        self._hold(steps)
        after = self.source_prices()
        seen = self.evaluate()
        buffers = {h: lens.buffer(self.fork, {p: self.lenses[p] for p in model.system(h) if p in self.lenses})
                   for h, lens in self.lenses.items()}
        truth = self._truth(steps, before) if steps.frozen else None
        paused = [moves.pause(fork, self.manifest, model, entry) for entry in steps.pauses]
        final = self.evaluate() if paused else seen
        risk_after, shares = self.at_risk(), self.share_prices()
        liquidations = self._liquidate(final)
        sales = self._sell(liquidations, options.max_slippage)
        cascade = self.evaluate() if sales else None
        holders = [self._holder(h, lens, baseline, seen, truth, final, cascade, liquidations, risk_after, paused, buffers[h])
                   for h, lens in self.lenses.items()]
        for row in holders:
            if row["address"] in shares:
                row["share_price"] = {"before": _round(self.baseline_shares.get(row["address"])),
                                      "after": _round(shares[row["address"]])}
        bad = sum(h["bad_debt"] for h in holders)
        return {
            "name": steps.scenario.name, "kind": steps.scenario.kind, "target": steps.scenario.target,
            "move": steps.scenario.move if steps.scenario.price is None else None, "price": steps.scenario.price,
            "asset": model.tokens.get(steps.asset or "", None), "hold_seconds": steps.hold,
            "sources": [{"source": s.name, "kind": s.kind, "before": _round(before.get(a)), "after": _round(after.get(a)),
                         "moved": a in moved, "stopped": any(f.source.address == a for f in steps.frozen)}
                        for a, s in model.sources.items() if (steps.asset and s.base == steps.asset) or a in touched],
            "paused": paused,
            "holders": holders,
            "liquidations": {"executed": sum(len(x) for x in liquidations.values()), "sales": sales},
            "value_at_risk": _per_protocol(model, risk_after),
            "protocols": _protocols(model, holders, self.baseline_risk, risk_after),
            "bad_debt": round(bad, 2),
            "uncovered": round(sum(h["coverage"]["uncovered"] for h in holders), 2),
        }

    def _hold(self, steps: Steps) -> None:
        """Time passes with the scenario in place: other feeds keep publishing, TWAPs are updated."""
        if steps.hold <= 0:
            return
        stopped = {m.source.address for m in steps.frozen}
        for _ in range(HOLD_STEPS):
            self.fork.warp(steps.hold // HOLD_STEPS)
            moves.refresh_feeds(self.fork, self.model, stopped)
            moves.update_derived(self.fork, self.model)

    def _truth(self, steps: Steps, before: dict[str, float | None]) -> Reading:
        """The accounts as they are once the stopped feeds publish the price they missed (then back to the stop)."""
        snapshot = self.fork.snapshot()
        now = self.fork.now()
        for m in steps.frozen:
            if before.get(m.source.address):
                moves.set_source(self.fork, m.source, m.target(before[m.source.address] or 0.0), now)
        reading = self.evaluate()
        self.fork.revert(snapshot)
        return reading

    def _liquidate(self, reading: Reading) -> dict[str, list[dict[str, Any]]]:
        """Every account a liquidation call succeeds for, liquidated by the liquidator (again while it still can)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for holder, lens in self.lenses.items():
            for account in (a for a in reading.accounts.get(holder, []) if a.liquidatable):
                flows: dict[str, int] = defaultdict(int)
                rounds, state = 0, account
                while state is not None and state.calls and rounds < MAX_ROUNDS:
                    sent = self.fork.send_data(LIQUIDATOR, holder, state.calls[0])
                    if not sent.ok:
                        break
                    rounds += 1
                    for token, source, dest, amount in token_moves(sent.logs):
                        flows[token] += amount if dest == LIQUIDATOR else -amount if source == LIQUIDATOR else 0
                    state = next(iter(lens.read(self.fork, [account.account])), None)
                if rounds:
                    out.setdefault(holder, []).append({"account": account.account, "rounds": rounds,
                                                       "flows": {t: a for t, a in flows.items() if a}})
        return out

    def _sell(self, liquidations: dict[str, list[dict[str, Any]]], slippage: float) -> list[dict[str, Any]]:
        """The collateral the liquidator seized (tokens other than the quote), sold through the deepest pool that
        pairs it with the quote asset: what it fetched against its value at the price before the sale."""
        seized: dict[str, int] = defaultdict(int)
        for rows in liquidations.values():
            for row in rows:
                for token, amount in row["flows"].items():
                    if amount > 0 and token != self.model.quote:
                        seized[token] += amount
        out = []
        for token, amount in seized.items():
            pools = [s for s in self.model.sources.values()
                     if s.kind == "pair" and s.base == token and s.quote == self.model.quote]
            row: dict[str, Any] = {"token": self.model.tokens.get(token, token), "amount": amount / 10 ** self.fork.decimals(token),
                                   "pool": None, "value": None, "proceeds": None, "slippage": None,
                                   "absorbable": round(sum(moves.absorbable(self.fork, p.address, token, slippage) for p in pools), 6),
                                   "max_slippage": slippage}
            if pools:
                deepest = max(pools, key=lambda p: self.fork.balance(self.model.quote or "", p.address))
                mark = moves.pool_price(self.fork, deepest.address, token) or 0.0
                received = moves.sell(self.fork, deepest.address, token, amount, LIQUIDATOR)
                value = row["amount"] * mark
                proceeds = received / 10 ** self.fork.decimals(self.model.quote or "")
                row |= {"pool": deepest.name, "value": round(value, 2), "proceeds": round(proceeds, 2),
                        "slippage": round(1 - proceeds / value, 6) if value else None,
                        "price_after": _round(moves.pool_price(self.fork, deepest.address, token))}
            out.append(row)
        return out

    def _holder(self, holder: str, lens: Lens, baseline: Reading, seen: Reading, truth: Reading | None, final: Reading,
                cascade: Reading | None, liquidations: dict[str, list[dict[str, Any]]], risk: dict[str, float | None],
                paused: list[dict[str, Any]], buffers: dict[str, float]) -> dict[str, Any]:
        h = self.model.holders[holder]
        judged = truth or seen  # bad debt at the true price
        accounts = judged.by_account(holder)
        bad = {a: x.bad_debt for a, x in accounts.items() if x.bad_debt > 0}
        cover = sum(buffers.values())
        total_bad = sum(bad.values())
        is_paused = any(p["address"] == holder and p["paused"] for p in paused)
        liquidatable = seen.liquidatable(holder)
        row: dict[str, Any] = {
            "holder": h.name, "address": holder, "protocol": h.protocol, "role": h.role,
            "methods": lens.methods(), "gaps": lens.gaps(), "accounts": len(seen.accounts.get(holder, [])),
            "liquidatable": sorted(liquidatable),
            "newly_liquidatable": sorted(liquidatable - baseline.liquidatable(holder)),
            "liquidated": [x["account"] for x in liquidations.get(holder, [])],
            "liquidation_flows": {x["account"]: {self.model.tokens.get(t, t): str(a) for t, a in x["flows"].items()}
                                  for x in liquidations.get(holder, [])},
            "bad_debt": round(total_bad, 2),
            "bad_debt_accounts": {a: round(v, 2) for a, v in sorted(bad.items(), key=lambda i: -i[1])},
            "coverage": {"buffers": {k: round(v, 2) for k, v in buffers.items()}, "covered": round(min(cover, total_bad), 2),
                         "uncovered": round(max(0.0, total_bad - cover), 2)},
            "value_at_risk": {"before": self.baseline_risk.get(holder), "after": risk.get(holder)},
            "accounts_detail": [a.as_dict() for a in judged.accounts.get(holder, [])],
        }
        if truth is not None:  # a stopped feed: what the protocol cannot see yet
            row["hidden"] = sorted(truth.liquidatable(holder) - liquidatable)
        if paused:
            can = final.liquidatable(holder)
            row["paused"] = is_paused
            # what could be liquidated but cannot while paused: by the calls before the pause, or by a view that says so
            row["blocked"] = sorted((liquidatable | final.flagged(holder)) - can) if is_paused else []
            frozen = [a for a in final.accounts.get(holder, [])] if is_paused else []
            row["frozen_users"] = {"accounts": len(frozen),
                                   "equity": round(sum(max(0.0, a.equity or 0.0) for a in frozen), 2)}
        if cascade is not None:
            row["after_sales"] = sorted(cascade.liquidatable(holder) - set(row["liquidated"]))
        return row


def _per_protocol(model: ProtocolModel, at_risk: dict[str, float | None]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for holder, value in at_risk.items():
        out[model.holders[holder].protocol] += value or 0.0
    return {p: round(v, 2) for p, v in out.items()}


def _protocols(model: ProtocolModel, holders: list[dict[str, Any]], before: dict[str, float | None],
               after: dict[str, float | None]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for row in holders:
        p = out.setdefault(row["protocol"], {"value_at_risk_before": 0.0, "value_at_risk_after": 0.0, "bad_debt": 0.0,
                                             "uncovered": 0.0, "liquidated": 0})
        p["bad_debt"] += row["bad_debt"]
        p["uncovered"] += row["coverage"]["uncovered"]
        p["liquidated"] += len(row["liquidated"])
    for holder, value in before.items():
        protocol = model.holders[holder].protocol
        if protocol in out:
            out[protocol]["value_at_risk_before"] += value or 0.0
            out[protocol]["value_at_risk_after"] += after.get(holder) or 0.0
    return {name: {k: round(v, 2) for k, v in p.items()} for name, p in out.items()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)

