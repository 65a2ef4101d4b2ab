"""What the daemon watches on each network, resolved from the configuration once: every protocol's manifest
(or contracts listed in the config) read, their ABIs inlined, and merged into one manifest per network that
keeps every key — each contract names its protocol, the quote asset and manifest extras survive the merge.
The detection engine, the responder and the reports all get this same model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watchdog.config.settings import Settings
from watchdog.errors import ConfigError
from watchdog.manifest import ContractEntry, Manifest, load_manifest
from watchdog.validation import plain, shown


@dataclass(frozen=True)
class ProtocolDeployment:
    """One `[protocols.<name>]` resolved on its network."""

    name: str
    network: str
    manifest: Manifest


@dataclass(frozen=True)
class Deployment:
    """Every watched contract of one network."""

    network: str
    chain_id: int
    manifest: Manifest                 # merged: ABIs inline, addresses lowercase, `protocol` on every contract
    protocols: tuple[ProtocolDeployment, ...]

    @property
    def addresses(self) -> set[str]:
        return {c.address for c in self.manifest.contracts}


def resolve_protocols(settings: Settings) -> list[ProtocolDeployment]:
    """Every protocol as a manifest of its own network (ABI paths read, addresses lowercase, extras kept)."""
    out: list[ProtocolDeployment] = []
    for name, config in settings.protocols.items():
        network = config.network or next(iter(settings.networks))
        chain_id = settings.networks[network].chain_id
        contracts: list[ContractEntry] = []
        extra: dict[str, Any] = {}
        block = settings.networks[network].start_block or 0
        safe = None
        if config.manifest is not None:
            manifest = load_manifest(settings.path(config.manifest))
            if manifest.chain_id != chain_id:
                raise ConfigError(f"protocols.{plain(name)}.manifest: chain id {manifest.chain_id} differs from "
                                  f"networks.{plain(network)}.chain_id {chain_id}: point it at the right network")
            extra = dict(manifest.model_extra or {})
            label = str(extra.get("protocol") or extra.get("name") or name)
            contracts += [_inline(manifest, entry, label, _is_quote(manifest, entry)) for entry in manifest.contracts]
            block, safe = manifest.block, manifest.safe
        if config.contracts:
            holder = Manifest(chain_id=chain_id, contracts=config.contracts, source=settings.base_dir / "config")
            contracts += [_inline(holder, entry, name, False) for entry in config.contracts]
        extra.setdefault("protocol", name)
        out.append(ProtocolDeployment(name, network, Manifest(chain_id=chain_id, block=block, contracts=contracts,
                                                              safe=safe, **extra)))
    return out


def deployments(settings: Settings) -> dict[str, Deployment]:
    """One merged deployment per configured network (a network with no protocol watches nothing)."""
    protocols = resolve_protocols(settings)
    problems = [*_shared_contracts(settings, protocols), *_unknown_response_names(settings, protocols)]
    if not any(p.manifest.contracts for p in protocols):
        problems.append(f"{settings.source}: protocols: no contract is watched: add a [protocols.<name>] table with "
                        "a manifest or contracts")
    if problems:
        raise ConfigError("\n".join(problems))
    out: dict[str, Deployment] = {}
    for network, net in settings.networks.items():
        mine = tuple(p for p in protocols if p.network == network)
        extra: dict[str, Any] = {}
        for protocol in mine:  # the first protocol's keys win (its name is the network's default protocol)
            for key, value in (protocol.manifest.model_extra or {}).items():
                extra.setdefault(key, value)
        extra.pop("quote", None)  # each protocol's quote asset is marked on its own token entry
        merged = Manifest(chain_id=net.chain_id, block=min((p.manifest.block for p in mine), default=0),
                          contracts=[c for p in mine for c in p.manifest.contracts],
                          safe=next((p.manifest.safe for p in mine if p.manifest.safe), None), **extra)
        out[network] = Deployment(network, net.chain_id, merged, mine)
    return out


def _shared_contracts(settings: Settings, protocols: list[ProtocolDeployment]) -> list[str]:
    """A name or an address in two protocols of one network: which protocol a finding, a report or a pause
    target means would depend on the order of the tables."""
    problems = []
    for network in settings.networks:
        names: dict[str, str] = {}
        addresses: dict[str, str] = {}
        for protocol in (p for p in protocols if p.network == network):
            for entry in protocol.manifest.contracts:
                for seen, key, what in ((names, entry.name, f"contract name {shown(entry.name)}"),
                                        (addresses, entry.address.lower(), f"address {entry.address} ({plain(entry.name)})")):
                    other = seen.setdefault(key, protocol.name)
                    if other != protocol.name:
                        problems.append(f"{settings.source}: protocols.{plain(protocol.name)}: {what} is also in "
                                        f"protocols.{plain(other)} on network {plain(network)}: list each contract in one "
                                        "protocol, under one name")
    return problems


def _unknown_response_names(settings: Settings, protocols: list[ProtocolDeployment]) -> list[str]:
    """Playbook targets must name watched contracts and notifiers configured ones: found now, not during an attack."""
    contracts = sorted({c.name for p in protocols for c in p.manifest.contracts})
    problems = []
    for n, playbook in enumerate(settings.playbooks):
        for m, action in enumerate(playbook.actions):
            where = f"{settings.source}: playbooks.{n}.actions.{m}"
            for target in action.targets:
                if target not in ("affected", "all") and target not in contracts:
                    problems.append(f"{where}.targets: {shown(target)} names no watched contract: use \"affected\", "
                                    f"\"all\" or a contract name ({_some(contracts)})")
            for notifier in action.notifiers:
                if notifier not in settings.notifiers:
                    problems.append(f"{where}.notifiers: {shown(notifier)} is not configured: add a [notifiers.{plain(notifier)}] "
                                    f"table or use one of: {_some(sorted(settings.notifiers)) or 'none configured'}")
    return problems


def _some(names: list[str], count: int = 8) -> str:
    return ", ".join(plain(n) for n in names[:count]) + (f" and {len(names) - count} more" if len(names) > count else "")


def _is_quote(manifest: Manifest, entry: ContractEntry) -> bool:
    quote = str((manifest.model_extra or {}).get("quote") or "")
    return bool(quote) and quote.lower() in (entry.name.lower(), entry.address.lower())


def _inline(manifest: Manifest, entry: ContractEntry, protocol: str, quote: bool) -> ContractEntry:
    """The entry with its ABI read, its address lowercase and the keys a merge would otherwise lose."""
    extra = dict(entry.model_extra or {})
    extra.setdefault("protocol", protocol)
    if quote:
        extra["quote"] = True
    return ContractEntry.model_validate({**entry.model_dump(exclude={"abi"}), **extra, "address": entry.address.lower(),
                                         "abi": manifest.abi_of(entry)})
