"""The real watchdog, in-process, for a drill: the daemon (block follower with 0 confirmations, WebSocket heads,
mempool follower, scheduled rules) driving the rule engine, with the responder as its findings sink. A world on
several chains is one daemon following one network per chain, as a team would configure it.

Only two things are added around production code: an observer sink (after the responder) that timestamps
every finding as it is delivered, and a thin wrapper around the rule engine that notes which pending
transactions have been judged. Both only record; the block clock uses them to know the watchdog caught up.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from sqlmodel import Session

from watchdog.chain.events import ChainReader, PendingTx
from watchdog.config import Settings, parse_settings
from watchdog.daemon import Daemon, rule_engine
from watchdog.finding import Finding, Severity
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.manifest import Manifest
from watchdog.scenarios.base import DEVNET
from watchdog.respond.sink import ResponderSink
from watchdog.stress.incident import incident_views
from watchdog.store import FindingRecord, FindingStatus, Store, actions, ledger
from watchdog.store.responder import Action

NETWORK = DEVNET
# The responder's key reaches the watchdog the production way: through an environment variable named in
# [signers.responder]. In a drill it is the demo world's responder, a public anvil dev account.
KEY_ENV = "WATCHDOG_DRILL_RESPONDER_KEY"


@dataclass(frozen=True)
class Seen:
    """A finding as the watchdog delivered it, with the wall-clock time of delivery."""

    at: float
    rule_id: str
    title: str
    severity: Severity
    block: int | None
    tx_hash: str | None
    pending: bool
    dedup_key: str
    network: str = NETWORK


@dataclass
class Judged:
    """What the rule engine has judged: pending transactions, scheduled runs, and the findings it produced that
    the daemon will deliver to the sinks (counted per key, as a pending finding is delivered again once mined)."""

    pending: set[str] = field(default_factory=set)
    scheduled_started: dict[str, int] = field(default_factory=dict)  # by network
    scheduled: dict[str, int] = field(default_factory=dict)  # completed, by network (runs are sequential on each)
    awaited: dict[str, int] = field(default_factory=dict)
    acted: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, found: list[Finding], session: Session | None) -> None:
        """Findings the daemon stores as new (or revives) are delivered to the sinks after its commit."""
        if not found:
            return
        keys = {f.dedup_key: f for f in found}
        stored = {} if session is None else ledger.findings_by_keys(session, list(keys))
        with self.lock:
            for key, finding in keys.items():
                row = stored.get(key)
                outstanding = self.acted.get(key, 0) < self.awaited.get(key, 0)  # one commit delivers it once
                if not outstanding and (row is None or row.status == FindingStatus.RETRACTED or (row.pending and not finding.pending)):
                    self.awaited[key] = self.awaited.get(key, 0) + 1

    def all_acted(self) -> bool:
        with self.lock:
            return all(self.acted.get(key, 0) >= n for key, n in self.awaited.items())


class _Recorded:
    """The rule engine, unchanged, noting what it judged (see Judged)."""

    def __init__(self, engine: Any, judged: Judged, network: str) -> None:
        self._engine = engine
        self._judged = judged
        self._network = network

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def on_block(self, bundle: Any, session: Session | None = None) -> list[Finding]:
        found = self._engine.on_block(bundle, session=session)
        self._judged.expect(found, session)
        return found

    def on_schedule(self, reader: ChainReader, block: Any = None, session: Session | None = None) -> list[Finding]:
        judged, network = self._judged, self._network
        with judged.lock:
            judged.scheduled_started[network] = judged.scheduled_started.get(network, 0) + 1
        found = self._engine.on_schedule(reader, block, session=session)
        judged.expect(found, session)
        with judged.lock:
            judged.scheduled[network] = judged.scheduled.get(network, 0) + 1
        return found

    def on_pending(self, pending: PendingTx, reader: ChainReader, session: Session | None = None) -> list[Finding]:
        found = self._engine.on_pending(pending, reader, session=session)
        self._judged.expect(found, session)
        with self._judged.lock:
            self._judged.pending.add(pending.tx.hash.lower())
        return found

    def watched_topics(self) -> set[str]:
        return self._engine.watched_topics()


def drill_settings(anvils: Mapping[str, Anvil], worlds: Mapping[str, World], workdir: Path, *,
                   start_blocks: Mapping[str, int], mempool: bool, respond: bool, rules_interval: float = 0.3,
                   protocol: str = "demo") -> Settings:
    """The configuration a protocol team would write for a test world, tuned for a local chain: one network per
    chain, each with its manifest (the protocol is `<protocol>-<network>` when there are several)."""
    pause = {"type": "pause", "targets": ["affected"], "dry_run": not respond}
    networks = {name: {"chain_id": anvil.chain_id, "rpc_urls": [anvil.url], "ws_url": anvil.ws_url,
                       "confirmations": 0, "poll_interval": 0.25, "start_block": start_blocks[name], "mempool": mempool}
                for name, anvil in anvils.items()}
    several = len(worlds) > 1
    protocols = {(f"{protocol}-{name}" if several else protocol): {"manifest": str(world.manifest_path),
                                                                  **({"network": name} if several else {})}
                 for name, world in worlds.items()}
    raw: dict[str, Any] = {
        "networks": networks,
        "protocols": protocols,
        "store": {"url": "sqlite:///watchdog.db"},
        "metrics": {"enabled": False},
        "schedule": {"rules_interval": rules_interval},
        "playbooks": [{"name": "contain", "when": {"min_severity": "high"}, "actions": [pause]}],
        "signers": {"responder": {"key_env": KEY_ENV}},
        "responder": {"executor": {"min_priority_fee_gwei": 2.0}},
    }
    return parse_settings(raw, "drill", workdir)


class Watchdog:
    """Start, observe and stop the daemon + responder for one drill."""

    def __init__(self, anvils: Mapping[str, Anvil], worlds: Mapping[str, World], workdir: Path, *,
                 start_blocks: Mapping[str, int], mempool: bool = True, respond: bool = True,
                 on_finding: Callable[[Seen], None] | None = None, protocol: str = "demo") -> None:
        """One network per anvil (`anvils` and `worlds` by network name), followed from `start_blocks`."""
        os.environ[KEY_ENV] = next(iter(worlds.values())).accounts.responder.key
        self.anvils = dict(anvils)
        self.settings = drill_settings(anvils, worlds, workdir, start_blocks=start_blocks, mempool=mempool,
                                       respond=respond, protocol=protocol)
        self.store_url = self.settings.store_url()
        self.start_blocks = dict(start_blocks)
        self.judged = Judged()

        def handlers(settings: Settings, network: str, manifest: Manifest, store: Store) -> Any:
            return _Recorded(rule_engine(settings, network, manifest, store), self.judged, network)

        self.daemon = Daemon(self.settings, handler_factory=handlers)
        self.sink: ResponderSink = self.daemon.responder_sink()
        self.daemon.add_sink(self._observe)  # before the responder: the time a finding comes out of detection
        self.daemon.add_sink(self.sink)
        self.daemon.add_sink(self._acted)  # after the responder: the finding has been acted on
        # an opened incident's stress view, played on a fork in the background, and its communications drafted
        self.views = incident_views(self.settings, self.daemon.store, {n: w.manifest for n, w in worlds.items()})
        if self.views is not None:
            self.daemon.add_sink(self.views)
        self.seen: list[Seen] = []
        self._seen_lock = threading.Lock()
        self.on_finding = on_finding
        self.running = False

    # --- lifecycle ---
    def start(self) -> "Watchdog":
        self.sink.start()
        self.daemon.start()
        self.running = True
        return self

    def stop(self) -> None:
        """Stop the responder (its transaction watchers) and the daemon."""
        if not self.running:
            return
        self.running = False
        self.sink.close()
        self.daemon.shutdown()
        if self.views is not None:
            self.views.close()  # the view being played is finished: the report reads it

    # --- observation ---
    def _observe(self, new: list[FindingRecord], retracted: list[FindingRecord]) -> None:
        now = time.time()
        for record in new:
            seen = Seen(now, record.rule_id, record.title, Severity(record.severity), record.block_number,
                        record.tx_hash, record.pending, record.dedup_key, record.network)
            with self._seen_lock:
                self.seen.append(seen)
            if self.on_finding is not None:
                self.on_finding(seen)

    def _acted(self, new: list[FindingRecord], retracted: list[FindingRecord]) -> None:
        with self.judged.lock:
            for record in new:
                self.judged.acted[record.dedup_key] = self.judged.acted.get(record.dedup_key, 0) + 1

    def findings(self) -> list[Seen]:
        with self._seen_lock:
            return list(self.seen)

    def heads(self) -> dict[str, int]:
        """Each network's latest block."""
        return {name: anvil.block_number() for name, anvil in self.anvils.items()}

    def caught_up(self, heads: Mapping[str, int] | None = None, pending: tuple[str, ...] = ()) -> bool:
        """Every block up to each network's head (default: its latest) processed, the given pending transactions
        judged (when the mempool is followed), and every finding produced so far delivered to the sinks, so the
        responder acted on it."""
        for name, head in (heads if heads is not None else self.heads()).items():
            runtime = self.daemon.networks[name]
            checkpoint = runtime.follower.checkpoint
            if (checkpoint if checkpoint is not None else self.start_blocks[name] - 1) < head:
                return False
            if pending and runtime.mempool is not None:
                with self.judged.lock:
                    if any(h.lower() not in self.judged.pending for h in pending):
                        return False
        return self.judged.all_acted()

    def next_scheduled_run(self) -> dict[str, int]:
        """On each network, the number of the first scheduled run to start from now on (done when its completed
        runs reach it)."""
        with self.judged.lock:
            return {name: self.judged.scheduled_started.get(name, 0) + 1 for name in self.anvils}

    def scheduled_done(self, runs: Mapping[str, int]) -> bool:
        with self.judged.lock:
            return all(self.judged.scheduled.get(name, 0) >= run for name, run in runs.items())

    def actions(self) -> list[Action]:
        with self.daemon.store.session() as s:
            return actions.actions(s)

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until the responder's transactions are mined (or given up)."""
        return all(r.wait(timeout) for r in self.sink.responders.values())
