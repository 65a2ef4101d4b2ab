"""Wire the responder into the daemon: one Responder per network (its protocols' manifests merged, as the
daemon follows them), behind one sink that routes findings by network."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from watchdog.manifest import Manifest
from watchdog.respond.responder import Responder
from watchdog.respond.rpc import Rpc
from watchdog.store import Store

log = logging.getLogger(__name__)


class ResponderSink:
    """`sink(new, retracted)` for `Daemon.add_sink`: each finding goes to the responder of its network."""

    def __init__(self, responders: dict[str, Responder]) -> None:
        self.responders = responders

    def __call__(self, new: Iterable[Any], retracted: Iterable[Any]) -> None:
        by_network: dict[str, tuple[list[Any], list[Any]]] = {}
        for finding in new:
            by_network.setdefault(finding.network, ([], []))[0].append(finding)
        for finding in retracted:
            by_network.setdefault(finding.network, ([], []))[1].append(finding)
        for network, (fresh, gone) in by_network.items():
            responder = self.responders.get(network)
            if responder is None:
                log.warning("no responder for network %s: %d finding(s) not acted on", network, len(fresh))
                continue
            responder.handle(fresh, gone)

    def start(self) -> None:
        """Resume what a previous run left open (never a second transaction)."""
        for responder in self.responders.values():
            responder.start()

    def close(self) -> None:
        for responder in self.responders.values():
            responder.close()


def responder_sink(settings: Any, store: Store) -> ResponderSink:
    """Build the responders of every configured network from the whole configuration."""
    from watchdog.config import resolve_protocols

    protocols = resolve_protocols(settings)
    responders: dict[str, Responder] = {}
    for name, net in settings.networks.items():
        mine = [p for p in protocols if p.network == name]
        manifest = Manifest(chain_id=net.chain_id, contracts=[c for p in mine for c in p.manifest.contracts],
                            safe=next((p.manifest.safe for p in mine if p.manifest.safe), None))
        responders[name] = Responder(settings, store, Rpc(net.rpc_urls, timeout=net.timeout), manifest, network=name)
    return ResponderSink(responders)


def attach(daemon: Any) -> ResponderSink:
    """Register the responder on a `watchdog.daemon.Daemon` and resume what a previous run left open."""
    sink = responder_sink(daemon.settings, daemon.store)
    daemon.add_sink(sink)
    sink.start()
    return sink
