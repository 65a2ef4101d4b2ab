"""The unit of work, the same for every source of events (a block range, a pending transaction, a scheduled
run): run the handler, commit its findings, the rule state and the source's progress in ONE store
transaction, then publish the new and retracted findings to the sinks.

A crash before the commit loses nothing (the source starts over from its last progress); a crash after it
duplicates nothing (findings are deduplicated by key). Sinks only ever see committed findings.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from sqlmodel import Session

from watchdog.errors import RpcError
from watchdog.finding import Finding
from watchdog.metrics import Metrics
from watchdog.pipeline.handler import Sink, call_handler
from watchdog.store import Store, ledger
from watchdog.store.models import FindingRecord

log = logging.getLogger("watchdog.pipeline")


class UnitOfWork:
    def __init__(self, network: str, store: Store, *, sinks: list[Sink] | None = None, metrics: Metrics | None = None,
                 lock: threading.Lock | None = None) -> None:
        self.network = network
        self.store = store
        self.sinks = sinks if sinks is not None else []
        self.metrics = metrics or Metrics()
        self.lock = lock or threading.Lock()  # rules are not required to be thread-safe
        self.detection_failures = 0  # events in a row on which the handler raised (health)

    def detect(self, method: Callable[..., list[Finding]], session: Session, *args: Any, where: str) -> list[Finding]:
        """The handler's findings for one event. The node failing under a rule is raised (the source retries
        the whole unit, nothing is committed); any other failure is logged and counted, and detection goes on
        with the next event: one bad rule or block must not stop the watchdog."""
        try:
            with self.lock:
                found = call_handler(method, session, *args)
            self.detection_failures = 0
            return found
        except RpcError:
            raise
        except Exception:
            self.detection_failures += 1
            self.metrics.errors.labels(self.network, "rule").inc()
            log.exception("%s: detection failed on %s; continuing", self.network, where,
                          extra={"network": self.network, "where": where})
            return []

    def commit(self, work: Callable[[Session], list[Finding]], progress: Callable[[Session], None] | None = None,
               head: tuple[int, int] | None = None) -> list[FindingRecord]:
        """`work(session)` gives the findings; they and `progress(session)` (a checkpoint) commit together.
        `head` (number, timestamp) is the chain's head as the source saw it: each finding keeps it, so that
        anyone can tell a finding made at the head from one made while catching up on history.
        Returns the findings that are new, after publishing them."""
        with self.store.session() as session:
            found = work(session)
            if head is not None:
                for finding in found:
                    finding.head_block, finding.head_time = head
            new = ledger.store_findings(session, found)
            if progress is not None:
                progress(session)
        for record in new:
            self.metrics.findings.labels(self.network, record.severity).inc()
        self.publish(new, [])
        return new

    def retract(self, fork_number: int, fork_hash: str) -> list[FindingRecord]:
        """A reorg: everything above the fork point is undone in one transaction, then published as retracted."""
        with self.store.session() as session:
            retracted = ledger.roll_back(session, self.network, fork_number, fork_hash)
        self.metrics.retractions.labels(self.network).inc(len(retracted))
        self.publish([], retracted)
        return retracted

    def publish(self, new: list[FindingRecord], retracted: list[FindingRecord]) -> None:
        if not new and not retracted:
            return
        for sink in list(self.sinks):
            try:
                sink(new, retracted)
            except Exception:
                self.metrics.errors.labels(self.network, "sink").inc()
                log.exception("%s: a finding sink failed; the findings are stored", self.network)
