"""The detection engine: runs every enabled rule on blocks, pending transactions and a schedule.

Each rule's handlers (`on_block`, `on_tx`, `on_pending`, `on_schedule`) run on their trigger. A rule that raises
is logged, counted and skipped for that event; the other rules still run. Findings of checks the configuration
turned off are dropped. False-positive controls applied to every finding: allowlisted actors are capped below
the pause threshold, and a cooldown per check, protocol and finding key drops repeats (an escalation always
passes); both can be set for a whole rule or for one check.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from sqlmodel import Session

from watchdog.chain.events import Block, BlockBundle, ChainReader, Log, PendingTx, Tx
from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient, RpcUnavailable
from watchdog.detect.abi import EventSpec
from watchdog.detect.context import Context, Scope
from watchdog.detect.reads import ChainReads
from watchdog.finding import Finding, Severity
from watchdog.detect.loader import discover
from watchdog.detect.clusters import AttackerClusters
from watchdog.detect.model.keeper import ModelKeeper
from watchdog.detect.registry import ProtocolRegistry
from watchdog.detect.rule import HANDLERS, Rule, Trigger
from watchdog.detect.state import RuleStateView, StateCache
from watchdog.errors import ConfigError, RpcError
from watchdog.manifest import Manifest
from watchdog.store import Store

log = logging.getLogger(__name__)

_METRICS: dict[int, tuple[Histogram, Counter]] = {}


def rule_metrics(registry: CollectorRegistry = REGISTRY) -> tuple[Histogram, Counter]:
    """`watchdog_rule_seconds` (histogram) and `watchdog_rule_errors_total` (counter) by network and rule, once
    per registry."""
    if id(registry) not in _METRICS:
        _METRICS[id(registry)] = (
            Histogram("watchdog_rule_seconds", "Time spent in one rule evaluation", ["network", "rule"], registry=registry,
                      buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)),
            Counter("watchdog_rule_errors_total", "Rule evaluations that raised", ["network", "rule"], registry=registry),
        )
    return _METRICS[id(registry)]

COOLDOWN_RULE = "__cooldown__"


@dataclass(slots=True)
class RuleStats:
    runs: int = 0
    errors: int = 0
    seconds: float = 0.0
    last_error: str = ""


RuleTables = Mapping[str, Mapping[str, Any]]  # `[rules.<id>]` and `[rules."<id>.<check>"]` tables: enabled + params


def _rule_settings(table: Mapping[str, Any] | None) -> tuple[bool, dict[str, Any]]:
    """(enabled, parameters) of one table (no table: enabled with the defaults)."""
    table = table or {}
    return bool(table.get("enabled", True)), {k: v for k, v in table.items() if k != "enabled"}


def _split_settings(settings: RuleTables, known: Iterable[str]) -> tuple[dict[str, Mapping[str, Any]], dict[str, dict[str, dict]]]:
    """`[rules.<id>]` tables by rule id, and `[rules."<id>.<check>"]` tables by rule id and check."""
    known = set(known)
    unknown = sorted(key for key in settings if key.partition(".")[0] not in known)
    if unknown:
        raise ConfigError(f"rules: unknown rule id(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    families: dict[str, Mapping[str, Any]] = {}
    checks: dict[str, dict[str, dict]] = {}
    for key, raw in settings.items():
        rule_id, _, check = key.partition(".")
        if not check:
            families[rule_id] = raw
            continue
        enabled, params = _rule_settings(raw)
        checks.setdefault(rule_id, {})[check] = {"enabled": enabled, **params}
    return families, checks


class RemoteReaders:
    """Readers of other networks, by RPC URL: one client per endpoint for the engine's life, a fresh reader
    (and read cache) per engine call, so "latest" is asked again each time."""

    def __init__(self) -> None:
        self._clients: dict[str, RpcClient] = {}

    def __call__(self, url: str) -> ChainReader:
        if url not in self._clients:
            self._clients[url] = RpcClient(url, retries=1, timeout=5.0)
        return BlockReader(self._clients[url], url)


class Engine:
    def __init__(self, network: str, manifest: Manifest | ProtocolRegistry, store: Store | None = None,
                 rules: RuleTables | None = None, rule_dirs: Iterable[Path | str] = (),
                 allowlist: Iterable[str] = (), builtin: bool = True,
                 metrics_registry: CollectorRegistry | None = None, rule_classes: Iterable[type[Rule]] = (),
                 remote: Callable[[str], ChainReader] | None = None, chains: Mapping[int, str] | None = None) -> None:
        """`rules`: `[rules.<id>]` and `[rules."<id>.<check>"]` tables by key; `rule_classes`: rules to run
        beside those found; `remote`: a reader of another network by RPC URL (default: JSON-RPC over HTTP);
        `chains`: the RPC URL of each other network the daemon follows, by chain id (`ctx.chain(chain_id)`)."""
        self.network = network
        self._seconds, self._errors = rule_metrics(metrics_registry or REGISTRY)
        self._static: dict = {}  # immutable reads shared by every scope
        self._remote = remote or RemoteReaders()
        self._remote_static: dict[str, dict] = {}
        self.chains = dict(chains or {})
        self.registry = manifest if isinstance(manifest, ProtocolRegistry) else ProtocolRegistry(manifest)
        self.store = store
        self.state = StateCache(store, network)
        self.model = ModelKeeper(self.registry, self.state)
        self.clusters = AttackerClusters(self.state)
        self.allowlist = {a.lower() for a in allowlist}
        classes = discover([Path(d) for d in rule_dirs], builtin=builtin, classes=rule_classes)
        families, checks = _split_settings(dict(rules or {}), classes)
        self.rules: list[Rule] = []
        for rule_id, cls in classes.items():
            enabled, params = _rule_settings(families.get(rule_id))
            rule = cls(params, checks.get(rule_id))  # built even when off: its check tables are validated too
            if enabled and (not rule.checks or any(rule.enabled(c) for c in rule.checks)):
                self.rules.append(rule)
        self.stats: dict[str, RuleStats] = {r.id: RuleStats() for r in self.rules}
        for rule in self.rules:
            for sig in (*rule.topics, *rule.events):
                if "(" in sig:  # a bare topic0 hex is fetched but cannot be decoded
                    self.registry.decoder.add(EventSpec.parse(sig))

    def needs(self) -> dict[str, list[tuple[str, str]]]:
        """Node capability -> (rule id, what that rule cannot see without it), for the rules that run."""
        out: dict[str, list[tuple[str, str]]] = {}
        for rule in self.rules:
            for capability, what in rule.needs.items():
                out.setdefault(capability, []).append((rule.id, what))
        return out

    # -- what the listeners should fetch -------------------------------------------------------------
    def watched_topics(self) -> set[str]:
        """topic0 values the rules want from any emitter (flash-loan events and the like)."""
        return {EventSpec.parse(sig).topic0 if "(" in sig else sig.lower() for r in self.rules for sig in r.topics}

    def watched_addresses(self) -> set[str]:
        return self.registry.addresses()

    def followed(self) -> set[str]:
        """Accounts whose transactions are judged too, whatever they call: the attacker clusters findings named."""
        return set(self.clusters.members())

    # -- entry points --------------------------------------------------------------------------------
    def on_block(self, bundle: BlockBundle, session: Session | None = None) -> list[Finding]:
        """Findings of one block; rule state is written in `session` when given (else in its own transaction)."""
        for entry in bundle.logs:
            self.registry.decoder.decode(entry)
        prefetch = getattr(bundle.reader, "prefetch_receipts", None)
        if callable(prefetch) and bundle.txs:
            prefetch(list(bundle.txs))  # one batch instead of a receipt request per transaction
        scope = self._scope(bundle.reader, bundle.block, block_logs=bundle.logs, txs=bundle.txs)
        self.model.keep(scope)
        by_tx: dict[str, list[Log]] = {}
        for entry in bundle.logs:
            by_tx.setdefault(entry.tx_hash, []).append(entry)
        txs = self._txs_in_order(bundle)
        self._prefetch_traces(scope, txs, by_tx)
        findings: list[Finding] = []
        for rule in self._with(Trigger.BLOCK):
            findings += self._run(rule, Trigger.BLOCK, scope, None, bundle.logs)
        tx_rules = self._with(Trigger.TX)
        for tx in txs if tx_rules else []:
            for rule in tx_rules:
                findings += self._run(rule, Trigger.TX, scope, tx, by_tx.get(tx.hash, []))
        self.model.learn_from_traces(scope)
        self.clusters.learn(findings, bundle.block.number if bundle.block else None, self.allowlist)
        self.state.flush(session)
        return findings

    def on_pending(self, pending: PendingTx, reader: ChainReader, session: Session | None = None) -> list[Finding]:
        for entry in pending.logs:
            self.registry.decoder.decode(entry)
        scope = self._scope(reader, reader.latest_block(), pending=pending, block_logs=pending.logs,
                            txs={pending.tx.hash: pending.tx})
        findings: list[Finding] = []
        for rule in self._with(Trigger.PENDING):
            findings += self._run(rule, Trigger.PENDING, scope, pending.tx, pending.logs)
        self.state.flush(session)
        return findings

    def on_schedule(self, reader: ChainReader, block: Block | None = None, session: Session | None = None) -> list[Finding]:
        scope = self._scope(reader, block or reader.latest_block())
        findings: list[Finding] = []
        for rule in self._with(Trigger.SCHEDULE):
            findings += self._run(rule, Trigger.SCHEDULE, scope, None, [])
        self.state.flush(session)
        return findings

    # -- internals -----------------------------------------------------------------------------------
    def _scope(self, reader: ChainReader, block: Block | None, **event: Any) -> Scope:
        return Scope(reader, self.registry, block, static=self._static, remote=self._remote_reads, chains=self.chains,
                     model=self.model, clusters=self.clusters, **event)

    def _remote_reads(self, url: str) -> ChainReads:
        return ChainReads(self._remote(url), self._remote_static.setdefault(url, {}), strict=False)

    def _with(self, trigger: Trigger) -> list[Rule]:
        return [r for r in self.rules if trigger in r.triggers()]

    def _prefetch_traces(self, scope: Scope, txs: list[Tx], by_tx: dict[str, list[Log]]) -> None:
        """Ask each rule that declares it which transactions it will trace, then fetch those traces together."""
        prefetch = getattr(scope.reader, "prefetch_traces", None)
        has_trace = getattr(scope.reader, "has_trace", lambda _hash: False)
        declaring = [r for r in self.rules if type(r).needs_trace is not Rule.needs_trace]
        untraced = [tx for tx in txs if not has_trace(tx.hash)]  # the block's traces may have come with it
        if not callable(prefetch) or not declaring or not untraced:
            return
        wanted: list[str] = []
        for tx in untraced:
            for rule in declaring:
                ctx = Context(rule=rule, trigger=Trigger.TX, network=self.network, scope=scope,
                              state=RuleStateView(self.state, rule.id), tx=tx, logs=by_tx.get(tx.hash, []))
                try:
                    if rule.needs_trace(ctx):
                        wanted.append(tx.hash)
                        break
                except RpcUnavailable:
                    raise
                except Exception:  # the rule still runs, and fetches what it reads itself
                    log.exception("rule %s failed to say what it traces in %s", rule.id, tx.hash)
        if wanted:
            positions = {tx.hash: tx.index for tx in txs if tx.index is not None}
            prefetch(wanted, positions, max(positions.values(), default=0) + 1)

    @staticmethod
    def _txs_in_order(bundle: BlockBundle) -> list[Tx]:
        txs = dict(bundle.txs)
        for entry in bundle.logs:  # a tx known only through its logs is fetched once
            if entry.tx_hash not in txs:
                txs[entry.tx_hash] = bundle.reader.transaction(entry.tx_hash)
        return sorted(txs.values(), key=lambda t: t.index if t.index is not None else 1 << 30)

    def _run(self, rule: Rule, trigger: Trigger, scope: Scope, tx: Tx | None, logs: list[Log]) -> list[Finding]:
        ctx = Context(rule=rule, trigger=trigger, network=self.network, scope=scope,
                      state=RuleStateView(self.state, rule.id), tx=tx, logs=logs)
        stats = self.stats[rule.id]
        started = time.perf_counter()
        try:
            produced = list(getattr(rule, HANDLERS[trigger])(ctx) or ())
        except RpcUnavailable:
            raise  # not the rule's fault: the listener retries the block once the node answers again
        except Exception as exc:  # one broken rule never stops the others
            stats.errors += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"
            self._errors.labels(self.network, rule.id).inc()
            log.error("rule %s failed on %s %s: %s", rule.id, trigger.value, tx.hash if tx else (scope.block.number if scope.block else ""),
                      exc, exc_info=not isinstance(exc, RpcError))  # a node refusing a read is one line, not a traceback
            return []
        finally:
            elapsed = time.perf_counter() - started
            stats.runs += 1
            stats.seconds += elapsed
            self._seconds.labels(self.network, rule.id).observe(elapsed)
        return [f for f in (self._control(rule, ctx, f) for f in produced) if f is not None]

    def _control(self, rule: Rule, ctx: Context, finding: Finding) -> Finding | None:
        """Drop a check the configuration turned off; allowlist cap, then cooldown per check, protocol and key."""
        check = finding.rule_id.removeprefix(rule.id).removeprefix(".") or None
        if not rule.enabled(check):
            return None
        params = rule.params_for(check)
        actors = {ctx.tx.sender, ctx.tx.to} if ctx.tx else set()
        allowed = (self.allowlist | {a.lower() for a in params.get("allowlist", [])}) & {a for a in actors if a}
        if allowed and finding.severity > Severity.LOW:
            finding.labels["allowlisted"] = sorted(allowed)
            finding.labels["severity_before_allowlist"] = finding.severity.value
            finding.severity = Severity.LOW
        cooldown = int(params.get("cooldown") or 0)
        if cooldown <= 0 or ctx.block is None:
            return finding
        slot = f"{finding.rule_id}|{finding.protocol}|{finding.key}"
        last = self.state.get(COOLDOWN_RULE, slot)
        if last and ctx.now < last["until"] and finding.severity <= Severity(last["severity"]):
            return None
        self.state.set(COOLDOWN_RULE, slot, {"until": ctx.now + cooldown, "severity": finding.severity.value})
        return finding


__all__ = ["Engine", "RuleStats"]
