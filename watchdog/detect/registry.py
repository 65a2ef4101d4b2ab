"""The protocol registry rules see: watched contracts by address and role, built from the manifest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from watchdog.chain.abi import AbiRegistry
from watchdog.manifest import ContractEntry, Manifest

# Roles whose contracts hold users' funds or price them: touching one means touching the protocol itself.
CORE_ROLES = frozenset({"market", "vault", "lending", "oracle_adapter", "twap_oracle", "guardian"})
FUND_ROLES = frozenset({"market", "vault", "lending"})


@dataclass(frozen=True, slots=True)
class Watched:
    name: str
    address: str
    role: str
    extra: dict[str, Any]  # manifest fields beyond the schema (asset, heartbeat, decimals, reference...)
    entry: ContractEntry
    protocol: str          # the entry's `protocol` field, else the manifest's


class ProtocolRegistry:
    """Address → watched contract, roles, the protocol's name and quote asset, and an event decoder."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        extra = manifest.model_extra or {}
        self.protocol: str = str(extra.get("protocol") or extra.get("name") or "protocol")
        self.decoder = AbiRegistry()
        self._by_address: dict[str, Watched] = {}
        self._by_name: dict[str, Watched] = {}
        for entry in manifest.contracts:
            fields = dict(entry.model_extra or {})
            watched = Watched(entry.name, entry.address.lower(), entry.role, fields, entry,
                              str(fields.get("protocol") or self.protocol))
            self._by_address[watched.address] = watched
            self._by_name[entry.name] = watched
            self.decoder.add_abi(manifest.abi_of(entry), entry.address)
        self.safe: str | None = manifest.safe.address.lower() if manifest.safe else None
        # The quote asset values are expressed in: the manifest's `quote`, else a token entry with `quote: true`.
        quote = extra.get("quote")
        marked = [w for w in self._by_address.values() if w.role == "token" and w.extra.get("quote") is True]
        self.quote: Watched | None = self.resolve(quote) if quote else (marked[0] if marked else None)

    def protocol_of(self, addresses: Iterable[str]) -> str:
        """The protocol a finding belongs to: that of the first watched address it names."""
        for address in addresses:
            watched = self.get(address)
            if watched is not None and watched.role not in ("token", "amm_pair"):
                return watched.protocol
        return self.protocol

    def get(self, address: str | None) -> Watched | None:
        return self._by_address.get(address.lower()) if address else None

    def resolve(self, ref: str | None) -> Watched | None:
        """A contract named by manifest name or by address."""
        if not ref:
            return None
        return self._by_name.get(ref) or self._by_address.get(ref.lower())

    def role(self, *roles: str) -> list[Watched]:
        return [w for w in self._by_address.values() if w.role in roles]

    def addresses(self) -> set[str]:
        return set(self._by_address)

    def is_core(self, address: str | None) -> bool:
        watched = self.get(address)
        return watched is not None and watched.role in CORE_ROLES

    def core_touched(self, addresses: Iterable[str | None]) -> list[Watched]:
        """The core contracts among `addresses`, those holding funds first."""
        seen: dict[str, Watched] = {}
        for address in addresses:
            watched = self.get(address)
            if watched is not None and watched.role in CORE_ROLES:
                seen.setdefault(watched.address, watched)
        return sorted(seen.values(), key=lambda w: (w.role not in FUND_ROLES, w.name))

    def feeds_for(self, asset: str) -> list[Watched]:
        """Oracle feeds whose manifest entry names `asset` (token name or address) as what they price."""
        target = self.resolve(asset)
        out = []
        for feed in self.role("oracle_feed"):
            ref = self.resolve(str(feed.extra.get("asset", "")))
            if ref is not None and target is not None and ref.address == target.address:
                out.append(feed)
        return out
