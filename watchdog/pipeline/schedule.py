"""Scheduled rule runs: rules on a clock (oracle heartbeats, staleness), judged at the latest block."""

from __future__ import annotations

import threading

from sqlmodel import Session

from watchdog.chain import parse
from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.metrics import Metrics
from watchdog.finding import Finding
from watchdog.pipeline.handler import Handler, Sink, stamped
from watchdog.pipeline.unit import UnitOfWork
from watchdog.store import Store
from watchdog.store.models import FindingRecord


class ScheduledRuns:
    def __init__(self, network: str, rpc: RpcClient, store: Store, handler: Handler, *, sinks: list[Sink] | None = None,
                 metrics: Metrics | None = None, handler_lock: threading.Lock | None = None) -> None:
        self.network = network
        self.rpc = rpc
        self.handler = handler
        self.unit = UnitOfWork(network, store, sinks=sinks, metrics=metrics, lock=handler_lock)

    def run(self) -> list[FindingRecord]:
        head = parse.block(self.rpc.call("eth_getBlockByNumber", ["latest", False]))
        reader = BlockReader(self.rpc, self.network, head.number)
        def work(session: Session) -> list[Finding]:
            found = self.unit.detect(self.handler.on_schedule, session, reader, where=f"scheduled run at block {head.number}")
            return stamped(found, head)

        return self.unit.commit(work, head=(head.number, head.timestamp))
