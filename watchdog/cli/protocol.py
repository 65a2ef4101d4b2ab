"""`watchdog protocol show`: the protocol model learned from the chain now, with no manifest hint — what each
protocol consumes (price sources, read under which key), holds (tokens), owes (its claim token), who holds its
claims, and what it has at risk in the quote asset."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from watchdog.cli.app import app
from watchdog.errors import ConfigError

if TYPE_CHECKING:  # imported when the command runs: `watchdog --help` stays fast
    from watchdog.config import Settings
    from watchdog.detect.model import ProtocolModel, Source

protocol_app = typer.Typer(help="The protocol model learned from the chain: price sources, holdings, claims, risk.",
                           no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")



@dataclass
class Learned:
    """The model of one network at one block, with what the tables show beside it."""

    model: ProtocolModel
    network: str
    block: int
    names: dict[str, str]               # address -> manifest name
    decimals: dict[str, int]            # token -> decimals
    at_risk: dict[str, float | None]    # holder -> value at risk in the quote asset


@protocol_app.command("show")
def show(
    name: str = typer.Argument(None, help="Only this protocol, or the holder of this contract name, or the holders "
                                          "consuming this price source."),
    config: Path = typer.Option(None, "--config", "-c", help="TOML config (default: ./watchdog.toml)."),
    manifest: Path = typer.Option(None, "--manifest", help="Without a config: the deployment manifest."),
    rpc: str = typer.Option(None, "--rpc", help="Without a config: JSON-RPC URL of the chain it is deployed on."),
    network: str = typer.Option(None, "--network", help="Network name from the config (needed when it has several)."),
    as_json: bool = typer.Option(False, "--json", help="Print the model as JSON (the form the watchdog keeps)."),
    mermaid: bool = typer.Option(False, "--mermaid", help="Print the model as a Mermaid flowchart."),
) -> None:
    """Learn the protocol model from the chain at its head and print it: each holder's sources, tokens, claim
    token, owners, dependants and value at risk; each source's kind, asset, inputs and learned cadence."""
    from watchdog.config import command_settings

    if as_json and mermaid:
        raise ConfigError("pick one of --json and --mermaid")
    settings = command_settings(config, manifest, [rpc] if rpc else [])
    learned = learn(settings, _network(settings, network))
    groups = select(learned.model, name)
    part = _part(learned.model, [h for holders in groups.values() for h in holders], name)
    if as_json:
        typer.echo(json.dumps(part.to_json(), indent=1))
    elif mermaid:
        typer.echo(part.mermaid())
    else:
        _print(learned, groups, unconsumed=name is None)


def _network(settings: Settings, network: str | None) -> str:
    if network is None:
        if len(settings.networks) > 1:
            raise ConfigError(f"the config has several networks: pick one with --network ({', '.join(settings.networks)})")
        return next(iter(settings.networks))
    if network not in settings.networks:
        raise ConfigError(f"--network {network}: not in the config; use one of {', '.join(settings.networks)}")
    return network


def learn(settings: Settings, network: str) -> Learned:
    """Probe every watched contract of `network` at the node's head (nothing is kept: the daemon keeps its own)."""
    from watchdog.chain.reader import BlockReader
    from watchdog.chain.rpc import RpcClient
    from watchdog.redaction import redact_url
    from watchdog.config import deployments
    from watchdog.detect.model import Prober
    from watchdog.detect.model.probe import SOURCE_ROLES
    from watchdog.detect.model.risk import value_at_risk
    from watchdog.detect.reads import ChainReads
    from watchdog.detect.registry import FUND_ROLES, ProtocolRegistry

    deployment = deployments(settings)[network]
    net = settings.networks[network]
    client = RpcClient(net.rpc_urls, retries=1, timeout=net.timeout)
    try:
        chain_id = int(client.call("eth_chainId"), 16)
        if chain_id != net.chain_id:
            raise ConfigError(f"networks.{network}.chain_id is {net.chain_id} but the node at {redact_url(net.rpc_urls[0])} "
                              f"serves chain {chain_id}: fix chain_id, or point the network at a node of chain {net.chain_id}")
        head = int(client.call("eth_blockNumber"), 16)
        reads = ChainReads(BlockReader(client, network, head), {})
        registry = ProtocolRegistry(deployment.manifest)
        empty = [w.name for w in registry.role(*FUND_ROLES, *SOURCE_ROLES) if reads.reader.code(w.address, head) in ("", "0x")]
        if empty:
            raise ConfigError(f"no code at {', '.join(empty)} on chain {chain_id} at block {head}: point --rpc (or the "
                              "network) at the chain the manifest describes, or check it with `watchdog manifest check`")
        model = Prober(registry, reads, head).learn()
        at_risk = {h: value_at_risk(model, reads, h, head) for h in model.holders}
        decimals = {t: reads.decimals(t) for t in model.tokens}
    finally:
        client.close()
    names = {c.address.lower(): c.name for c in deployment.manifest.contracts}
    return Learned(model, network, head, names, decimals, at_risk)


def select(model: ProtocolModel, name: str | None) -> dict[str, list[str]]:
    """Protocol -> the holders to show: every protocol, one protocol, one holder, or a source's consumers."""
    by_protocol: dict[str, list[str]] = {}
    for holder in model.holders.values():
        by_protocol.setdefault(holder.protocol, []).append(holder.address)
    if name is None:
        return by_protocol
    if name in by_protocol:
        return {name: by_protocol[name]}
    holder = next((h for h in model.holders.values() if h.name == name), None)
    if holder is not None:
        return {holder.protocol: [holder.address]}
    source = next((s for s in model.sources.values() if s.name == name), None)
    if source is not None:
        consumers = model.consumers(source.address)
        return {p: [h for h in holders if h in consumers] for p, holders in by_protocol.items() if consumers & set(holders)}
    contracts = sorted([*(h.name for h in model.holders.values()), *(s.name for s in model.sources.values())])
    raise ConfigError(f"{name!r} is neither a protocol nor a holder or price source of the model: use a protocol "
                      f"({', '.join(sorted(by_protocol)) or 'none learned'}) or a contract ({', '.join(contracts)})")


def _part(model: ProtocolModel, holders: list[str], name: str | None) -> ProtocolModel:
    """The selected holders with the sources they read (all of the model when nothing was named)."""
    from watchdog.detect.model import ProtocolModel

    if name is None:
        return model
    read = {r for h in holders for s in model.holders[h].consumes() for r in model.reads(s)}
    read |= {s.address for s in model.sources.values() if s.name == name}  # a named source nobody consumes
    return ProtocolModel({h: model.holders[h] for h in holders}, {a: s for a, s in model.sources.items() if a in read},
                         dict(model.tokens), model.quote, model.learned_at)


# -- the tables ------------------------------------------------------------------------------------------------
def _print(learned: Learned, groups: dict[str, list[str]], unconsumed: bool) -> None:
    model, console = learned.model, Console()
    quote = _token(learned, model.quote) if model.quote else None
    if not model.holders:
        console.print(f"no holder learned on {learned.network} at block {learned.block}: the manifest has no contract "
                      "with role market, vault or lending", highlight=False)
    for protocol, holders in groups.items():
        counted = f"values in {quote} ({model.quote})" if quote else "no quote asset learned: values are not counted"
        console.print(f"\nprotocol [bold]{protocol}[/] on network {learned.network} at block {learned.block}: {counted}",
                      highlight=False)
        console.print(_holders(learned, holders, quote))
        read = {r for h in holders for s in model.holders[h].consumes() for r in model.reads(s)}
        if read:
            console.print(_sources(learned, [model.sources[a] for a in model.sources if a in read], f"sources of {protocol}"))
    idle = [s for s in model.sources.values() if not model.consumers(s.address)]
    if unconsumed and idle:
        console.print()
        console.print(_sources(learned, idle, "sources no holder consumes (a finding about them pauses nothing)"))


def _holders(learned: Learned, holders: list[str], quote: str | None) -> Table:
    model = learned.model
    table = Table("holder", "role", "consumes (source: view that names it)", "holds", "claim token", "owners", "dependants",
                  f"at risk ({quote or '?'})", title="holders")
    for address in holders:
        holder = model.holders[address]
        uses = [f"{_name(learned, u.source)}: {u.via}({_key(learned, u.key) if u.key else ''})" for u in holder.uses]
        holds = [f"{_amount(learned, token, balance)} {_token(learned, token)}"
                 for token, balance in sorted(holder.holds.items(), key=lambda item: _token(learned, item[0]).lower())]
        risk = learned.at_risk.get(address)
        table.add_row(f"{holder.name}\n{_short(address)}", holder.role, "\n".join(uses) or "-", "\n".join(holds) or "-",
                      _token(learned, holder.claim_token) if holder.claim_token else "-",
                      "\n".join(_name(learned, o) for o in holder.owners) or "-",
                      "\n".join(sorted(_name(learned, d) for d in model.dependants(address))) or "-",
                      f"{risk:,.2f}" if risk is not None else "-")
    return table


def _sources(learned: Learned, sources: list[Source], title: str) -> Table:
    model = learned.model
    table = Table("source", "kind", "prices", "inputs", "consumed by", "heartbeat", "deviation", title=title)
    for source in sources:
        prices = "/".join(_token(learned, t) if t else "?" for t in (source.base, source.quote))
        heartbeat = (f"{source.heartbeat:,} s" if source.heartbeat is not None
                     else "not learned yet" if source.kind == "feed" else "-")
        deviation = f"{source.deviation:.2%}" if source.deviation is not None else "-"
        table.add_row(f"{source.name}\n{_short(source.address)}", source.kind, prices,
                      "\n".join(_name(learned, a) for a in source.inputs) or "-",
                      "\n".join(sorted(_name(learned, h) for h in model.consumers(source.address))) or "-",
                      heartbeat, deviation)
    return table


def _token(learned: Learned, token: str | None) -> str:
    if token == "usd":
        return "USD"  # a feed quoted in dollars, not in a token
    return learned.model.tokens.get(token or "") or _name(learned, token or "")


def _name(learned: Learned, address: str) -> str:
    return learned.names.get(address) or (learned.model.holders[address].name if address in learned.model.holders
                                          else _short(address))


def _key(learned: Learned, key: str) -> str:
    """A use's key: the token it prices (collateral), or the id (a market's) it is read under."""
    if key in learned.model.tokens:
        return _token(learned, key)
    return _short(key) if len(key) == 66 else _name(learned, key)


def _amount(learned: Learned, token: str, balance: int) -> str:
    return f"{balance / 10 ** learned.decimals.get(token, 18):,.2f}"


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address
