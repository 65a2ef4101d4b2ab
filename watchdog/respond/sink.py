"""The responder as the daemon's sink: one Responder per network behind one sink that routes findings by network.

A finding may name contracts on other networks (`labels["targets"]`: addresses by chain id, e.g. the other end of a
bridge route): once its own network's responder has put it in an incident, the responder of each of those networks
pauses them there, in that same incident."""

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
        self.by_chain = {r.chain_id: r for r in responders.values()}

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
            for finding in fresh:
                self._cover_elsewhere(finding)

    def _cover_elsewhere(self, finding: FindingRecord) -> None:
        for chain_id, addresses in ((finding.labels or {}).get("targets") or {}).items():
            responder = self.by_chain.get(int(chain_id))
            if responder is None:
                log.warning("%s names contracts on chain %s, which no configured network serves: not paused there",
                            finding.rule_id, chain_id)
            elif responder.network != finding.network:
                try:
                    responder.cover(finding, addresses)
                except Exception as exc:  # one network's trouble must not stop the response elsewhere
                    log.error("pausing on %s for %s failed: %s", responder.network, finding.rule_id, exc)

    def start(self) -> None:
        """Resume what a previous run left open (never a second transaction)."""
        for responder in self.responders.values():
            responder.start()

    def close(self) -> None:
        for responder in self.responders.values():
            responder.close()
