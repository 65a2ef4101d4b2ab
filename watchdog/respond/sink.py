"""The responder as the daemon's sink: one Responder per network behind one sink that routes findings by network."""

from __future__ import annotations

import logging
from typing import Iterable

from watchdog.respond.responder import Responder
from watchdog.store import FindingRecord

log = logging.getLogger(__name__)


class ResponderSink:
    """`sink(new, retracted)` for `Daemon.add_sink`: each finding goes to the responder of its network."""

    def __init__(self, responders: dict[str, Responder]) -> None:
        self.responders = responders

    def __call__(self, new: Iterable[FindingRecord], retracted: Iterable[FindingRecord]) -> None:
        by_network: dict[str, tuple[list[FindingRecord], list[FindingRecord]]] = {}
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
