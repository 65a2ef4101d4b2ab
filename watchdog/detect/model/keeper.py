"""Keeping the protocol model current: learned at the first event the engine sees, kept in the network's rule state
(it survives restarts and reaches the responder, which isolates by it), learned again after `refresh` seconds of
chain time, for one holder at once when its owner calls it (a reconfiguration may swap its price source), and
completed by the price reads the holders make in the call traces the rules fetch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from watchdog.chain.events import CallFrame, Tx
from watchdog.chain.rpc import RpcUnavailable
from watchdog.detect.model.graph import Holder, ProtocolModel, Use
from watchdog.detect.model.probe import Prober
from watchdog.detect.registry import ProtocolRegistry
from watchdog.detect.state import StateCache

if TYPE_CHECKING:
    from watchdog.detect.context import Scope

log = logging.getLogger("watchdog.model")

STATE_RULE, STATE_KEY = "__model__", "graph"
REFRESH_SECONDS = 3600
MAX_ROUTINE = 10_000  # keeper calls remembered as changing no input (a bound on memory, not a policy)


class ModelKeeper:
    def __init__(self, registry: ProtocolRegistry, state: StateCache, refresh: int = REFRESH_SECONDS) -> None:
        self.registry, self.state, self.refresh = registry, state, refresh
        self._model: ProtocolModel | None = None
        self._learned_time = 0
        self.changes: list[SourceChange] = []  # of the block being judged
        self._checked: set[tuple[str, str]] = set()  # (holder, address) seen in traces, classified once
        self._routine: set[tuple[str, str]] = set()  # (derived source, calldata) that changed none of its inputs
        self._traced: dict[str, int] = {}  # holder -> chain time one of its transactions was last traced

    def current(self, scope: "Scope") -> ProtocolModel:
        now = scope.block.timestamp if scope.block else 0
        if self._model is None:
            stored = self.state.get(STATE_RULE, STATE_KEY)
            if stored:
                self._model, self._learned_time = ProtocolModel.from_json(stored["model"]), int(stored.get("time", 0))
        if self._model is None or (now and now - self._learned_time > self.refresh):
            self._learn(scope, now)
        assert self._model is not None
        return self._model

    def keep(self, scope: "Scope") -> list[SourceChange]:
        """Learn or refresh the model at a block, before the rules run (the responder isolates by it even when no
        rule asked), and read again each holder its owners called in the block: what they changed of its price
        sources is returned (and kept for the block's rules). A probe that fails is logged and tried again at the
        next block; detection goes on."""
        self.changes = []
        try:
            model = self.current(scope)
            if scope.block is not None and scope.pending is None:
                for holder in _called_by_owners(model, scope.txs.values()):
                    found = self.relearn(scope, holder)
                    if found is not None:
                        changed = source_changes(*found)
                        log.info("%s read again after its owner's call in block %d: %d price source change(s)",
                                 found[1].name, scope.block.number, len(changed))
                        self.changes += changed
                for source, data in _derived_called(model, scope.txs.values()):
                    if (source, data) in self._routine:
                        continue  # a keeper's update, again: it did not swap an input the last time either
                    changed = self.reprobe(scope, source)
                    if not changed and len(self._routine) < MAX_ROUTINE:
                        self._routine.add((source, data))
                    self.changes += changed
            return self.changes
        except RpcUnavailable:
            raise  # the node is gone: the listener retries the whole block
        except Exception as exc:  # noqa: BLE001 - an unexpected contract must not stop detection
            log.warning("cannot learn the protocol model at block %s: %s", scope.block.number if scope.block else "?", exc)
            return self.changes

    def learn_from_traces(self, scope: "Scope") -> None:
        """Sources the holders were seen reading in the call traces of the block (those the rules fetched, and one
        of each holder's own transactions per refresh period): a price read the views do not name, such as an
        oracle address held in a private variable."""
        try:
            self._learn_from_traces(scope)
        except RpcUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - an odd trace must not stop detection
            log.warning("cannot learn from the traces of block %s: %s", scope.block.number if scope.block else "?", exc)

    def _learn_from_traces(self, scope: "Scope") -> None:
        model = self._model
        if model is None or scope.pending is not None or scope.block is None:
            return
        now = scope.block.timestamp
        for tx in scope.txs.values():  # once per refresh period, one of each holder's own transactions is traced
            if tx.to in model.holders and now - self._traced.get(tx.to, -self.refresh) >= self.refresh:
                self._traced[tx.to] = now
                scope.trace(tx.hash)
        seen = [(frame.sender, read) for trace in scope.traces() if trace is not None for frame in trace.walk()
                if frame.sender in model.holders and frame.to for read in _reads_through(frame, model, self.registry)]
        fresh = {(h, a) for h, a in seen if (h, a) not in self._checked and a not in model.holders[h].consumes()}
        if not fresh:
            return
        prober = Prober(self.registry, scope.reads, _at(scope))
        prober.model = model
        for holder, address in sorted(fresh):
            self._checked.add((holder, address))
            if prober.kind(address) in ("feed", "pair", "derived"):
                prober.source(address)
                model.holders[holder].uses.append(Use(address, "trace"))
                log.info("%s reads %s (seen in a call trace)", model.holders[holder].name, model.sources[address].name)
        prober._assets()
        self._save()

    def relearn(self, scope: "Scope", holder: str) -> tuple[Holder, Holder] | None:
        """Read one holder's views again at the scope's block: (before, after), or None when it is not a holder."""
        model = self.current(scope)
        before = model.holders.get(holder)
        watched = self.registry.get(holder)
        if before is None or watched is None:
            return None
        prober = Prober(self.registry, scope.reads, _at(scope))
        prober.model = model
        after = prober.holder(watched)
        after.holds = before.holds  # balances are not what changed
        after.uses += [u for u in before.uses if u.via == "trace" and u.source not in after.consumes()]  # views cannot see these
        prober._assets()
        self._save()
        return before, after

    def reprobe(self, scope: "Scope", address: str) -> list[SourceChange]:
        """Read a derived source's inputs again after a call to it (an adapter pointed at another feed): each input
        it swapped is a source change for every holder that consumes it. An input that names no asset of its own
        prices the one it replaced."""
        model = self.current(scope)
        source = model.sources[address]
        prober = Prober(self.registry, scope.reads, _at(scope))
        prober.model = model
        inputs = prober._inputs(address)
        if set(inputs) == set(source.inputs):
            return []
        gone = [a for a in source.inputs if a not in inputs]
        added = [a for a in inputs if a not in source.inputs]
        for new in added:
            prober.source(new)
        source.inputs = inputs
        prober._assets()
        for old, new in zip(gone, added):
            if model.sources[new].base is None and old in model.sources:
                model.sources[new].base, model.sources[new].quote = model.sources[old].base, model.sources[old].quote
        pairs = list(zip(gone, added)) + [(a, None) for a in gone[len(added):]] + [(None, a) for a in added[len(gone):]]
        log.info("%s read again after a call to it: %d input(s) swapped", source.name, len(pairs))
        self._save()
        return [SourceChange(holder, None, source.name, old, new)
                for holder in sorted(model.consumers(address)) for old, new in pairs]

    def _learn(self, scope: "Scope", now: int) -> None:
        self._model = Prober(self.registry, scope.reads, _at(scope)).learn()
        self._learned_time = now
        log.info("protocol model learned: %d holder(s), %d source(s), quote %s", len(self._model.holders),
                 len(self._model.sources), self._model.tokens.get(self._model.quote or "", self._model.quote))
        self._save()

    def _save(self) -> None:
        assert self._model is not None
        self.state.set(STATE_RULE, STATE_KEY, {"model": self._model.to_json(), "time": self._learned_time})


@dataclass(frozen=True)
class SourceChange:
    """A holder that reads another price source (or a new one) under a key after its owner called it."""

    holder: str
    key: str | None
    via: str
    before: str | None
    after: str | None


def source_changes(before: Holder, after: Holder) -> list[SourceChange]:
    """What the holder's views name now that they did not before (None: no price source any more). Sources seen
    only in traces are no view's to change."""
    def by_key(holder: Holder) -> dict[tuple[str | None, str], str]:
        return {(use.key, use.via): use.source for use in holder.uses if use.via != "trace"}

    old, new = by_key(before), by_key(after)
    return [SourceChange(after.address, key, via, old.get((key, via)), new.get((key, via)))
            for key, via in sorted(set(old) | set(new), key=str) if old.get((key, via)) != new.get((key, via))]


def _reads_through(frame: CallFrame, model: ProtocolModel, registry: ProtocolRegistry) -> list[str]:
    """What a holder's call reads: its target when it is a static call, and what that target reads in turn when it
    is no holder of its own (an oracle router, a registry, an adapter whose source sits in a private variable, or a
    watched risk manager the holder asks whether it may lend). A call into a contract nobody watches (a flash-loan
    callback) reads for itself, not for the holder."""
    reads, stack = [], [frame]
    while stack:
        current = stack.pop()
        if current.type.upper() == "STATICCALL":
            reads.append(current.to)
        elif registry.get(current.to) is None:
            continue
        if current.to not in model.holders:
            stack += [c for c in current.calls if c.to]
    return reads


def _called_by_owners(model: ProtocolModel, txs: Iterable[Tx]) -> list[str]:
    """Holders called by one of their owners (or through an owner: a Safe, a timelock) in these transactions."""
    out = []
    for tx in txs:
        for holder in model.holders.values():
            if holder.address not in out and (tx.to == holder.address and tx.sender in holder.owners
                                              or tx.to in holder.owners):
                out.append(holder.address)
    return out


def _derived_called(model: ProtocolModel, txs: Iterable[Tx]) -> list[tuple[str, str]]:
    """(derived source, calldata) for each successful transaction of the block that called an adapter or TWAP."""
    return sorted({(tx.to, tx.input) for tx in txs if tx.to in model.sources and model.sources[tx.to].kind == "derived"
                   and tx.status != 0})


def _at(scope: "Scope") -> int | str:
    return scope.block.number if scope.block is not None and scope.pending is None else "latest"
