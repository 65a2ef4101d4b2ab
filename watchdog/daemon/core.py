"""The daemon: per network a block follower (and a mempool follower), WebSocket wake-ups, scheduled
jobs, the metrics/health server, graceful shutdown on SIGINT/SIGTERM.

Sinks: `daemon.add_sink(sink)` registers `sink(new, retracted)` (watchdog.pipeline.Sink). It is
called after every store commit that holds new findings (from blocks, pending transactions or scheduled
rules) or retractions (findings of reorged-out blocks). The responder registers one to open incidents
and act; notifications of retractions let it close what no longer stands.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from apscheduler.schedulers.background import BackgroundScheduler

from watchdog.chain.abi import AbiRegistry
from watchdog.chain.capabilities import CAPABILITIES, Probe, probe_or_explain
from watchdog.chain.rpc import RpcClient
from watchdog.chain.ws import Subscriber
from watchdog.config import Settings, deployments
from watchdog.daemon.deployments import DeploymentScans
from watchdog.daemon.handlers import HandlerFactory, rule_engine
from watchdog.detect import Engine
from watchdog.errors import ConfigError, RpcError
from watchdog.manifest import Manifest
from watchdog.metrics import Metrics, MetricsServer
from watchdog.pipeline import Follower, FollowerOptions, Handler, MempoolFollower, ScheduledRuns, Sink
from watchdog.respond.responder import Responder
from watchdog.respond.rpc import Rpc
from watchdog.respond.sink import ResponderSink
from watchdog.store import Store
from watchdog.validation import plain

log = logging.getLogger("watchdog.daemon")

STALL_FLOOR = 5.0  # seconds: a follower this long without progress while behind is stuck (or 2 poll intervals)
FAILURES = 3       # steps or detections failing in a row that make a network unhealthy
SHUTDOWN_SECONDS = 10.0  # the threads get this long, together, to finish their step once stopped
FORCED_EXIT_SECONDS = 20.0  # after a signal, the process ends by then whatever blocks (progress is in the store)
_UNKNOWN = Probe(CAPABILITIES["simulation"], True, "not probed")  # not asked yet: assume the best until told


@dataclass
class NetworkRuntime:
    name: str
    rpc: RpcClient
    handler: Handler
    follower: Follower
    scheduled: ScheduledRuns
    mempool: MempoolFollower | None = None
    subscriber: Subscriber | None = None
    capabilities: dict[str, Probe] = field(default_factory=dict)


class Daemon:
    def __init__(self, settings: Settings, *, handler_factory: HandlerFactory = rule_engine, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings.store_url())
        self.metrics = Metrics()
        self.sinks: list[Sink] = []
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(daemon=True)
        self.server: MetricsServer | None = None
        self.deployment_scans: DeploymentScans | None = None
        self._threads: list[threading.Thread] = []
        self.networks: dict[str, NetworkRuntime] = {}
        self.deployments = deployments(settings)  # the manifests, read once, for detection and response alike
        for name, deployment in self.deployments.items():
            manifest = deployment.manifest
            self.networks[name] = self._network(name, manifest, handler_factory(settings, name, manifest, self.store))

    def _network(self, name: str, manifest: Manifest, handler: Handler) -> NetworkRuntime:
        net = self.settings.networks[name]
        registry = AbiRegistry()
        registry.add_manifest(manifest)
        for file in self.settings.abis.files:
            registry.add_abi_file(self.settings.path(file))
        for directory in self.settings.abis.artifacts:
            registry.add_artifacts(self.settings.path(directory))
        rpc = RpcClient(net.rpc_urls, timeout=net.timeout, max_answer_bytes=net.max_answer_bytes,
                        on_request=self.metrics.rpc_hook, on_calls=self.metrics.rpc_calls_hook)
        addresses = {c.address.lower() for c in manifest.contracts}
        start = net.start_block if net.start_block is not None else (manifest.block or None)
        options = FollowerOptions(confirmations=net.confirmations, reorg_window=net.reorg_window, backfill=net.backfill,
                                  max_range=net.max_log_range, start_block=start, poll_interval=net.poll_interval)
        # One lock per network: rules are not required to be thread-safe, and a network whose node is slow
        # must not hold up detection on another.
        common: dict[str, Any] = {"sinks": self.sinks, "metrics": self.metrics, "handler_lock": threading.Lock()}
        follower = Follower(name, rpc, self.store, handler, addresses, registry, options, **common)
        mempool = MempoolFollower(name, rpc, self.store, handler, addresses, registry, poll_interval=min(0.5, net.poll_interval),
                                  **common) if net.mempool else None
        scheduled = ScheduledRuns(name, rpc, self.store, handler, **common)
        return NetworkRuntime(name, rpc, handler, follower, scheduled, mempool)

    # --- the public hooks ---
    def responder_sink(self) -> ResponderSink:
        """The responder of every network, over the deployments detection follows (register it with add_sink,
        then `start()` it to resume what a previous run left open)."""
        response = self.settings.response()
        return ResponderSink({name: Responder(response, self.store, Rpc(RpcClient(net.rpc_urls, timeout=net.timeout,
                                                                                  max_answer_bytes=net.max_answer_bytes)),
                                              self.deployments[name].manifest, network=name)
                              for name, net in self.settings.networks.items()})

    def add_sink(self, sink: Sink) -> None:
        """Register `sink(new, retracted)`, called after each commit with findings (see module doc)."""
        self.sinks.append(sink)

    def add_job(self, func: Callable[[], None], seconds: float, name: str) -> None:
        """A periodic job (e.g. re-scans); an exception is logged and the job runs again next time."""
        def guarded() -> None:
            try:
                func()
            except Exception:
                self.metrics.errors.labels("-", f"job:{name}").inc()
                log.exception("scheduled job %s failed", name)
        self.scheduler.add_job(guarded, "interval", seconds=seconds, id=name, name=name,
                               max_instances=1, coalesce=True, misfire_grace_time=None)

    # --- running ---
    def check_chains(self, *, once: bool = False) -> None:
        """Each endpoint set must serve the configured chain; a node that is down only gets a warning."""
        for name, runtime in self.networks.items():
            if self.stopping.is_set():
                return
            expected = self.settings.networks[name].chain_id
            try:
                actual, head = (int(value, 16) for value in runtime.rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])]))
            except (RpcError, TypeError, ValueError) as exc:
                if self.stopping.is_set():
                    return
                log.warning("%s: cannot read the chain id (%s); following anyway, retrying the node", name, exc)
                continue
            if actual != expected:
                raise ConfigError(f"networks.{name}.chain_id is {expected} but the RPC serves chain {actual}: "
                                  "fix chain_id or rpc_urls")
            self._check_head(name, runtime, head, once)

    def _check_head(self, name: str, runtime: NetworkRuntime, head: int, once: bool) -> None:
        """A start block or a confirmation depth past the node's head: a run --once would process nothing (an
        error); the daemon waits for the chain to get there (said once, in case it is a typo)."""
        net, options = self.settings.networks[name], runtime.follower.options
        where = f"{self.settings.source}: networks.{plain(name)}"
        problems = []
        if runtime.follower.checkpoint is None and options.start_block is not None and options.start_block > head + (not once):
            key = "start_block" if net.start_block is not None else "start_block (from the manifest's block)"
            problems.append(f"{where}.{key}: block {options.start_block} is past the node's head {head}: "
                            "lower it, or check that the manifest and rpc_urls are for this chain")
        if net.confirmations > head:
            problems.append(f"{where}.confirmations: {net.confirmations} is more than the {head} blocks the chain has: "
                            "lower it (0 detects on the head itself)")
        if problems and once:
            raise ConfigError("\n".join(problems))
        for problem in problems:
            log.warning("%s; waiting for the chain to get there", problem)

    def run_once(self, to_block: int | None = None, *, expect_blocks: bool = False) -> None:
        """Process every network up to its safe head (or `to_block`) and return. With `expect_blocks` (a run
        --once), a start block or a confirmation depth that leaves nothing to process is a ConfigError."""
        self.check_chains(once=expect_blocks)
        for runtime in self.networks.values():
            runtime.follower.run_until(to_block)

    def start(self) -> None:
        self._serve_metrics()  # first: /health answers while the nodes are being asked
        self.check_chains()
        self._check_capabilities()
        if self.settings.scan.deployments:  # live only: a replay or a backfill does not scan what it finds
            self.deployment_scans = DeploymentScans(self.settings, self.store)
            self.add_sink(self.deployment_scans)
        for name, runtime in self.networks.items():
            if self.stopping.is_set():
                return
            net = self.settings.networks[name]
            self._spawn(f"follow-{name}", runtime.follower.run)
            if runtime.mempool is not None:
                self._spawn(f"mempool-{name}", runtime.mempool.run)
            if net.ws_url:
                runtime.subscriber = self._subscriber(name, net.ws_url, runtime)
            self.add_job(runtime.scheduled.run, self.settings.schedule.rules_interval, f"rules-{name}")
        self.scheduler.start()
        log.info("watching %s", ", ".join(f"{n} ({len(r.follower.addresses)} contracts)" for n, r in self.networks.items()))

    def _serve_metrics(self) -> None:
        metrics = self.settings.metrics
        if not metrics.enabled:
            return
        try:
            self.server = MetricsServer(self.metrics, self.health, metrics.host, metrics.port).start()
        except OSError as exc:
            raise ConfigError(f"metrics: cannot listen on {metrics.host}:{metrics.port} ({exc.strerror}): "
                              "choose another port or set enabled = false") from exc
        log.info("metrics on %s:%d (/metrics and /health)", metrics.host, self.server.port)

    def _subscriber(self, name: str, url: str, runtime: NetworkRuntime) -> Subscriber:
        subscriber = Subscriber(url, name=name, max_message_bytes=self.settings.networks[name].max_answer_bytes)
        subscriber.subscribe("newHeads", runtime.follower.on_head)
        if runtime.mempool is not None:
            subscriber.subscribe("newPendingTransactions", runtime.mempool.enqueue)
            # Polling the pending filter pauses while the subscription delivers hashes.
            runtime.mempool.subscribed = subscriber.connected
        return subscriber.start()

    def _spawn(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self.stopping,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def run(self) -> None:
        """Start and block until SIGINT/SIGTERM (or stop()); then shut down cleanly."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda signum, _frame: self._signal(signum))
        self.start()
        try:
            while not self.stopping.wait(0.5):
                pass
        finally:
            self.shutdown()

    def _signal(self, signum: int) -> None:
        log.info("%s received: finishing the current step and stopping", signal.Signals(signum).name)
        if not self.stopping.is_set():  # a backstop, should anything block the shutdown below
            backstop = threading.Timer(FORCED_EXIT_SECONDS, _forced_exit)
            backstop.daemon = True
            backstop.start()
        self.stop()

    def stop(self) -> None:
        """Stop following: requests in flight end now (an interrupted step commits nothing, so it is redone
        after a restart) and every thread finishes."""
        self.stopping.set()
        for runtime in self.networks.values():
            runtime.follower.wake.set()
            runtime.rpc.interrupt()

    def shutdown(self) -> None:
        self.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("thread %s is still busy after %.0f s: stopping without it", thread.name, SHUTDOWN_SECONDS)
        for runtime in self.networks.values():
            runtime.follower.close()
            if runtime.subscriber is not None:
                runtime.subscriber.stop()
            runtime.rpc.close()
        if self.server is not None:
            self.server.stop()
        if self.deployment_scans is not None:
            self.deployment_scans.close()
        self.store.close()
        log.info("stopped")

    # --- health ---
    def health(self) -> dict[str, Any]:
        """ok when every network's follower keeps up with its head, steps succeed, detection does not keep
        failing and the node can do what the configuration needs; each problem is a reason in the report."""
        report: dict[str, Any] = {"ok": True, "networks": {}}
        for name, runtime in self.networks.items():
            reasons = self._problems(name, runtime)
            follower = runtime.follower
            report["ok"] = report["ok"] and not reasons
            report["networks"][name] = {
                "ok": not reasons, "reasons": reasons, "head": follower.head, "checkpoint": follower.checkpoint,
                "lag": follower.behind(), "catching_up": follower.catching_up,
                "seconds_since_progress": round(time.monotonic() - follower.last_progress, 1),
                "websocket": bool(runtime.subscriber and runtime.subscriber.connected.is_set()),
                "capabilities": {k: p.ok for k, p in runtime.capabilities.items()},
                "endpoints": runtime.rpc.health(),
            }
        return report

    def _problems(self, name: str, runtime: NetworkRuntime) -> list[str]:
        follower, net = runtime.follower, self.settings.networks[name]
        reasons = []
        idle = time.monotonic() - follower.last_progress
        if follower.behind() > 0 and idle > max(2 * net.poll_interval, STALL_FLOOR):
            reasons.append(f"the follower has not advanced for {idle:.0f} s while the head is {follower.behind()} block(s) ahead")
        if follower.failures >= FAILURES:
            reasons.append(f"the last {follower.failures} steps failed: {follower.last_error}")
        if follower.unit.detection_failures >= FAILURES:
            reasons.append(f"detection failed on the last {follower.unit.detection_failures} blocks")
        if runtime.mempool is not None and not runtime.capabilities.get("simulation", _UNKNOWN).ok:
            reasons.append("mempool = true needs debug_traceCall, which the node refuses")
        return reasons

    def _check_capabilities(self) -> None:
        """What each node can do, said once at start: a missing capability is one warning naming the rules
        that lose power and what is used instead."""
        for name, runtime in self.networks.items():
            found = probe_or_explain(runtime.rpc, self.settings.networks[name].ws_url)
            if self.stopping.is_set():
                return
            if isinstance(found, str):
                log.warning("%s: cannot ask the node what it can do (%s); retried at the next start", name, found)
                continue
            runtime.capabilities = found
            needs = runtime.handler.needs() if isinstance(runtime.handler, Engine) else {}
            for capability, result in found.items():
                if result.ok or (capability == "subscriptions" and not self.settings.networks[name].ws_url):
                    continue
                losers = "; ".join(f"{rule} ({what})" for rule, what in needs.get(capability, [])) or "no rule"
                log.warning("%s: the node has no %s (%s): rules losing power: %s; instead: %s", name, capability,
                            result.capability.what, losers, result.capability.fallback,
                            extra={"network": name, "capability": capability, "detail": result.detail})


def _forced_exit() -> None:
    log.error("the shutdown did not finish within %.0f s: exiting now (progress is in the store; nothing is lost)",
              FORCED_EXIT_SECONDS)
    logging.shutdown()
    os._exit(1)
