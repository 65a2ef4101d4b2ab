"""The protocol model: what each watched contract consumes (price sources), holds (tokens) and owes (the claim
tokens it issues), as a graph the rules, the responder and the reports read.

Nodes are addresses. A *source* gives a price (a push feed, a pool, a TWAP or adapter over other sources); a
*holder* is a contract of the protocol that holds funds (a market, vault or lending pool). Edges: a holder
consumes sources (possibly under a key: the market id, the collateral token it prices), a derived source reads
other sources, a holder holds tokens, and a holder that holds another holder's claim tokens depends on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SourceKind = Literal["feed", "pair", "derived"]


@dataclass
class Source:
    address: str
    kind: SourceKind
    name: str
    base: str | None = None          # the asset it prices (token address), when known
    quote: str | None = None         # what the price is in (token address, or "usd" for a USD feed)
    inputs: list[str] = field(default_factory=list)  # sources a derived source reads
    scale: int = 0                   # a derived source's price() is its value x 10**scale
    heartbeat: int | None = None     # feeds: seconds between rounds, learned from their history
    deviation: float | None = None   # feeds: the smallest relative move that triggered a round, learned


@dataclass
class Use:
    """A holder's use of a source: the view that named it, and the key it was read under (a market id, a
    collateral token), which says which of the holder's pause paths covers it."""

    source: str
    via: str
    key: str | None = None


@dataclass
class Holder:
    address: str
    name: str
    role: str
    protocol: str
    uses: list[Use] = field(default_factory=list)
    holds: dict[str, int] = field(default_factory=dict)  # token -> balance when learned
    claim_token: str | None = None   # the token that represents a claim on it (its own shares, an aToken...)
    accounting: str | None = None    # the token its books are kept in (cash, quote, settlement, asset)
    owners: list[str] = field(default_factory=list)  # owner()/admin() answers: privileged callers
    ids: list[str] = field(default_factory=list)     # the market / series ids its lists name (bytes32 hex)
    links: dict[str, str] = field(default_factory=dict)  # holder -> the plain view naming it (a market's vault())

    def consumes(self) -> set[str]:
        return {use.source for use in self.uses}


@dataclass
class ProtocolModel:
    holders: dict[str, Holder] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token address -> symbol
    quote: str | None = None  # the token values are counted in (learned from the protocols' accounting)
    learned_at: int = 0       # block

    # -- questions ------------------------------------------------------------------------------------
    def reads(self, source: str) -> set[str]:
        """Every source `source` depends on, itself included (a TWAP reads its pool, an adapter its feed)."""
        out, stack = set(), [source]
        while stack:
            current = stack.pop()
            if current in out:
                continue
            out.add(current)
            if current in self.sources:
                stack.extend(self.sources[current].inputs)
        return out

    def consumed(self) -> set[str]:
        """Every source some holder reads, directly or through derived sources."""
        return {read for holder in self.holders.values() for use in holder.consumes() for read in self.reads(use)}

    def consumers(self, source: str) -> set[str]:
        """The holders that consume `source`, directly or through derived sources."""
        return {h.address for h in self.holders.values() if any(source in self.reads(s) for s in h.consumes())}

    def consumer_keys(self, holder: str, source: str) -> set[str]:
        """The keys (market ids, collateral tokens) under which `holder` consumes `source`, if any."""
        found = self.holders.get(holder)
        return {u.key for u in found.uses if u.key and source in self.reads(u.source)} if found else set()

    def dependants(self, holder: str) -> set[str]:
        """Holders exposed to `holder`: those holding its claim token (its shares as collateral), transitively."""
        return set(self._exposed(holder))

    def _exposed(self, holder: str) -> dict[str, str]:
        """Each holder exposed to `holder` -> the holder whose claim token it holds (`holder` or one exposed to it)."""
        out: dict[str, str] = {}
        stack = [holder]
        while stack:
            current = stack.pop()
            claim = self.holders[current].claim_token if current in self.holders else None
            for other in self.holders.values():
                if other.address not in out and other.address != holder and claim and other.holds.get(claim):
                    out[other.address] = current
                    stack.append(other.address)
        return out

    def sources_of(self, base: str) -> list[Source]:
        """Every source that prices the asset `base`."""
        return [s for s in self.sources.values() if s.base == base]

    def affected(self, addresses: list[str]) -> dict[str, str]:
        """Holder -> why it is affected by a finding naming `addresses`: a source's consumers, a holder itself,
        and the holders exposed to it (contagion)."""
        out: dict[str, str] = {}
        for address in addresses:
            if address in self.holders:
                out.setdefault(address, "named by the finding")
                for dependant, creditor in self._exposed(address).items():
                    out.setdefault(dependant, f"holds {self.holders[creditor].name}'s claim token as collateral")
            elif address in self.sources:
                for consumer in self.consumers(address):
                    out.setdefault(consumer, f"consumes {self.sources[address].name}")
        for holder in list(out):
            for part, why in self.system(holder).items():
                out.setdefault(part, why)
        return out

    def system(self, holder: str) -> dict[str, str]:
        """The holders that work as one with `holder` (a market and the vault its `vault()` names, either way
        round, transitively) -> why."""
        out: dict[str, str] = {}
        stack = [holder]
        while stack:
            current = stack.pop()
            for other in self.holders.values():
                via = self.holders[current].links.get(other.address) if current in self.holders else None
                back = other.links.get(current)
                if other.address in out or other.address == holder or not (via or back):
                    continue
                name = self.holders[current].name
                out[other.address] = (f"{name}'s {via}()" if via else f"its {back}() is {name}") + f": one system with {name}"
                stack.append(other.address)
        return out

    # -- persistence ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ProtocolModel":
        holders = {a: Holder(**{**h, "uses": [Use(**u) for u in h["uses"]]}) for a, h in data.get("holders", {}).items()}
        sources = {a: Source(**s) for a, s in data.get("sources", {}).items()}
        return cls(holders, sources, dict(data.get("tokens", {})), data.get("quote"), int(data.get("learned_at", 0)))

    def mermaid(self, highlight: set[str] = frozenset()) -> str:
        """The graph as a Mermaid flowchart (holders, sources, claim tokens held), `highlight` marked."""
        lines = ["flowchart LR"]
        node = {a: f"n{i}" for i, a in enumerate([*self.holders, *self.sources])}
        for address, holder in self.holders.items():
            lines.append(f'  {node[address]}["{holder.name} ({holder.role})"]')
        for address, source in self.sources.items():
            lines.append(f'  {node[address]}(["{source.name} ({source.kind})"])')
        for address, holder in self.holders.items():
            for use in holder.uses:
                if use.source in node:
                    label = f"|{use.via}|" if use.via else ""
                    lines.append(f"  {node[address]} -->{label} {node[use.source]}")
            for other in self.holders.values():
                if other.claim_token and holder.holds.get(other.claim_token) and other.address != address:
                    lines.append(f"  {node[address]} -. holds claims .-> {node[other.address]}")
        for address, source in self.sources.items():
            for read in source.inputs:
                if read in node:
                    lines.append(f"  {node[address]} --> {node[read]}")
        lines += [f"  style {node[a]} stroke:#d00,stroke-width:3px" for a in highlight if a in node]
        return "\n".join(lines)
