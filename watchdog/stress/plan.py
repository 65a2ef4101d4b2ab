"""A scenario resolved against the protocol model and the manifest: the sources to move and by how much, the feeds
that stop, the contracts to pause, the time that passes. Names are matched as the user writes them (manifest names,
token symbols, protocol names, addresses); a name that matches nothing is one line saying what would."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchdog.detect.model import ProtocolModel, Source
from watchdog.errors import ConfigError
from watchdog.manifest import ContractEntry, Manifest
from watchdog.stress.scenarios import Scenario

STOP_HOLD = 7200  # seconds a feed stays silent when its heartbeat was not learned


@dataclass
class Move:
    source: Source
    move: float | None = None     # relative to its price now
    price: float | None = None    # or the price to set

    def target(self, current: float) -> float:
        return self.price if self.price is not None else current * (1 + (self.move or 0.0))


@dataclass
class Steps:
    scenario: Scenario
    asset: str | None                                       # the token whose price moves
    moves: list[Move] = field(default_factory=list)         # applied: what the protocols see
    frozen: list[Move] = field(default_factory=list)        # feeds that stop: their move is the price they miss
    pauses: list[ContractEntry] = field(default_factory=list)
    hold: int = 0


def resolve(s: Scenario, model: ProtocolModel, manifest: Manifest, hold: int | None = None) -> Steps:
    hold = s.hold if s.hold is not None else hold
    if s.kind == "shock":
        asset = token(model, manifest, s.target)
        return Steps(s, asset, _asset_moves(model, asset, s), hold=hold or 0)
    if s.kind == "stop":
        feed = _source(model, manifest, s.target)
        if feed.kind != "feed":
            raise ConfigError(f"scenario {s.name!r}: {s.target} is a {feed.kind}, not a push feed: a stop names a feed")
        others = [m for m in _asset_moves(model, feed.base, s) if m.source.address != feed.address] if feed.base else []
        default = 2 * feed.heartbeat if feed.heartbeat else STOP_HOLD
        return Steps(s, feed.base, others, [Move(feed, s.move)], hold=hold if hold is not None else default)
    if s.kind == "pause":
        entries = _pausable(model, manifest, s.target)
        asset = token(model, manifest, s.asset) if s.asset else None
        return Steps(s, asset, _asset_moves(model, asset, s) if asset else [], pauses=entries, hold=hold or 0)
    return _halt(s, model, manifest, hold)


def token(model: ProtocolModel, manifest: Manifest, name: str) -> str:
    """A token of the model by symbol, manifest name or address."""
    wanted = name.lower()
    for address, symbol in model.tokens.items():
        if wanted in (address, symbol.lower()):
            return address
    entry = next((c for c in manifest.contracts if c.name.lower() == wanted), None)
    if entry is not None and entry.address.lower() in model.tokens:
        return entry.address.lower()
    symbols = ", ".join(sorted(model.tokens.values()))
    raise ConfigError(f"{name!r} is not a token the protocol model knows: use one of {symbols}")


def _asset_moves(model: ProtocolModel, asset: str | None, s: Scenario) -> list[Move]:
    """Every feed and pool that prices `asset` (derived sources follow their inputs)."""
    moves = [Move(src, None if s.price is not None else s.move, s.price)
             for src in model.sources.values() if src.base == asset and src.kind in ("feed", "pair")]
    if asset is not None and not moves:
        raise ConfigError(f"scenario {s.name!r}: no feed or pool of the protocol model prices "
                          f"{model.tokens.get(asset, asset)}: shock an asset its sources price")
    return moves


def _source(model: ProtocolModel, manifest: Manifest, name: str) -> Source:
    wanted = name.lower()
    entry = next((c for c in manifest.contracts if c.name.lower() == wanted), None)
    address = entry.address.lower() if entry else wanted
    for source in model.sources.values():
        if address == source.address or wanted == source.name.lower():
            return source
    names = ", ".join(sorted(s.name for s in model.sources.values() if s.kind == "feed")) or "none"
    raise ConfigError(f"{name!r} is not a price source of the protocol model: feeds it knows: {names}")


def _pausable(model: ProtocolModel, manifest: Manifest, name: str) -> list[ContractEntry]:
    """The contracts `name` stands for (a contract, or every holder of a protocol), each with its pause path."""
    wanted = name.lower()
    entries = [c for c in manifest.contracts if wanted in (c.name.lower(), c.address.lower())]
    if not entries:
        holders = {h.address for h in model.holders.values() if h.protocol.lower() == wanted}
        entries = [c for c in manifest.contracts if c.address.lower() in holders]
    if not entries:
        known = sorted({h.protocol for h in model.holders.values()} | {h.name for h in model.holders.values()})
        raise ConfigError(f"{name!r} is neither a contract nor a protocol of the manifest: use one of {', '.join(known)}")
    missing = [c.name for c in entries if c.pause is None]
    if missing and len(missing) == len(entries):
        raise ConfigError(f"{', '.join(missing)} has no `pause` in the manifest: say how to pause it, or pause another contract")
    return [c for c in entries if c.pause is not None]


def _halt(s: Scenario, model: ProtocolModel, manifest: Manifest, hold: int | None) -> Steps:
    """A bridge route on this chain: the endpoints that carry it (manifest entries whose `bridge` hint names the same
    peer chain and token as the one named) paused, the feeds relayed from the peer chain (`source` hint) stopped
    while the asset moves by the scenario's move."""
    wanted = s.target.lower()
    endpoints = [c for c in manifest.contracts if isinstance(_extra(c).get("bridge"), dict)]
    named = [c for c in endpoints if wanted in (c.name.lower(), c.address.lower())]
    if not named:
        names = ", ".join(c.name for c in endpoints) or "none (no contract of the manifest has a `bridge` hint)"
        raise ConfigError(f"{s.target!r} is not a bridge endpoint of the manifest: endpoints: {names}")
    routes = {_route(c) for c in named}
    chosen = [c for c in endpoints if _route(c) in routes]
    peers = {peer for peer, _ in routes}
    relayed = [model.sources[c.address.lower()] for c in manifest.contracts
               if isinstance(_extra(c).get("source"), dict) and int(_extra(c)["source"].get("chain_id", 0)) in peers
               and c.address.lower() in model.sources]
    asset = next((f.base for f in relayed if f.base), None)
    others = [m for m in _asset_moves(model, asset, s) if m.source not in relayed] if asset else []
    default = max((2 * f.heartbeat for f in relayed if f.heartbeat), default=STOP_HOLD)
    return Steps(s, asset, others, [Move(f, s.move) for f in relayed], [c for c in chosen if c.pause is not None],
                 hold if hold is not None else default)


def _route(entry: ContractEntry) -> tuple[int, str]:
    """(peer chain id, local token) of a bridge endpoint."""
    hint = _extra(entry)["bridge"]
    return int(hint.get("peer_chain_id", 0)), str(hint.get("token", "")).lower()


def _extra(entry: ContractEntry) -> dict[str, Any]:
    return dict(entry.model_extra or {})
