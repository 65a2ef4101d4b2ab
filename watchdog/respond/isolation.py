"""What a finding puts at risk, and therefore what to pause: exactly the affected part. A finding about a price
source affects the protocols that consume it (directly or through adapters and TWAPs), and of a contract with
per-market pauses only the markets that read it; a finding about a protocol affects it and the protocols that hold
its claim tokens as collateral. Nothing else. Without a learned model, the contracts the finding names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.detect.model import ProtocolModel
from watchdog.detect.model.keeper import STATE_KEY, STATE_RULE
from watchdog.detect.model.risk import value_at_risk
from watchdog.detect.reads import ChainReads
from watchdog.errors import ConfigError, RpcError
from watchdog.manifest import ContractEntry, Manifest
from watchdog.respond.plan import TxPlan, pause_plans
from watchdog.store import Store, rulestate


@dataclass
class Target:
    entry: ContractEntry
    why: str
    keys: set[str] = field(default_factory=set)  # the market ids / tokens under which it reads what is affected

    def plans(self, manifest: Manifest, reason: str, kind: str) -> list[TxPlan]:
        """Its pause calls; of a contract paused market by market, only the markets it reads the affected part
        under (every path when none names one of them: better too much than a market left open)."""
        every = pause_plans(manifest, self.entry, reason, kind)
        if not self.keys or len(every) < 2:
            return every
        return [p for p in every if self.keys & _named(p)] or every


def _named(plan: TxPlan) -> set[str]:
    return {str(v).lower() for v in plan.decoded.get("args", {}).values()}


def load_model(store: Store, network: str) -> ProtocolModel | None:
    """The model the network's engine learned and keeps in the store (None before it learned one)."""
    with store.session() as s:
        stored = rulestate.get_value(s, network, STATE_RULE, STATE_KEY)
    return ProtocolModel.from_json(stored["model"]) if stored else None


def pausable(manifest: Manifest) -> list[ContractEntry]:
    return [c for c in manifest.contracts if c.pause is not None]


def select_targets(manifest: Manifest, names: list[str], addresses: list[str],
                   model: ProtocolModel | None = None) -> list[Target]:
    """Manifest entries to pause: explicit names, "all", or "affected" (see the module's doc)."""
    chosen: dict[str, Target] = {}
    for name in names:
        if name == "all":
            chosen.update({c.name: Target(c, "all pausable contracts") for c in pausable(manifest)})
        elif name == "affected":
            chosen.update({t.entry.name: t for t in affected(manifest, addresses, model)})
        else:
            try:
                chosen[name] = Target(manifest.by_name(name), "named by the playbook")
            except KeyError:
                raise ConfigError(f"playbook target {name!r} is not a contract of the manifest: use a manifest name, "
                                  "'affected' or 'all'") from None
    return list(chosen.values())


def affected(manifest: Manifest, addresses: list[str], model: ProtocolModel | None) -> list[Target]:
    wanted = [a.lower() for a in addresses]
    by_address = {c.address.lower(): c for c in pausable(manifest)}
    named = [Target(by_address[a], "named by the finding") for a in wanted if a in by_address]
    if model is None:
        return named or [Target(c, "no protocol model yet: every pausable contract") for c in pausable(manifest)]
    out = {t.entry.address.lower(): t for t in named}  # the model speaks lowercase; a manifest may not
    for holder, why in model.affected(wanted).items():
        if holder in by_address:
            target = out.setdefault(holder, Target(by_address[holder], why))
            if holder not in wanted:  # a contract the finding names is paused whole, not market by market
                target.keys |= {k.lower() for a in wanted for k in model.consumer_keys(holder, a)}
    return list(out.values())


def blast_radius(targets: list[Target], model: ProtocolModel | None, rpc: RpcClient, network: str) -> list[dict[str, Any]]:
    """Each affected contract, why, and what it holds at risk now in the quote asset (None when not priced)."""
    reads = ChainReads(BlockReader(rpc, network), {}, strict=False)
    return [{"contract": t.entry.name, "address": t.entry.address.lower(), "why": t.why,
             "value_at_risk": _at_risk(model, reads, t.entry.address.lower()), "markets": sorted(t.keys)}
            for t in targets]


def _at_risk(model: ProtocolModel | None, reads: ChainReads, holder: str) -> float | None:
    if model is None:
        return None
    try:
        return value_at_risk(model, reads, holder)
    except (RpcError, ArithmeticError, TypeError):  # a number for the signers, never a reason not to pause
        return None
