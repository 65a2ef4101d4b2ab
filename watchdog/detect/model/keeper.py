"""Keeping the protocol model current: learned at the first event the engine sees, kept in the network's rule state
(it survives restarts and reaches the responder, which isolates by it), learned again after `refresh` seconds of
chain time, and for one holder at once when its owner calls it (a reconfiguration may swap its price source)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from watchdog.chain.rpc import RpcUnavailable
from watchdog.detect.model.graph import Holder, ProtocolModel
from watchdog.detect.model.probe import Prober
from watchdog.detect.registry import ProtocolRegistry
from watchdog.detect.state import StateCache

if TYPE_CHECKING:
    from watchdog.detect.context import Scope

log = logging.getLogger("watchdog.model")

STATE_RULE, STATE_KEY = "__model__", "graph"
REFRESH_SECONDS = 3600


class ModelKeeper:
    def __init__(self, registry: ProtocolRegistry, state: StateCache, refresh: int = REFRESH_SECONDS) -> None:
        self.registry, self.state, self.refresh = registry, state, refresh
        self._model: ProtocolModel | None = None
        self._learned_time = 0

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

    def keep(self, scope: "Scope") -> None:
        """Learn or refresh the model at a block, before the rules run: the responder isolates by it even when no
        rule asked. A probe that fails is logged and tried again at the next block; detection goes on."""
        try:
            self.current(scope)
        except RpcUnavailable:
            raise  # the node is gone: the listener retries the whole block
        except Exception as exc:  # noqa: BLE001 - an unexpected contract must not stop detection
            log.warning("cannot learn the protocol model at block %s: %s", scope.block.number if scope.block else "?", exc)

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
        prober._assets()
        self._save()
        return before, after

    def _learn(self, scope: "Scope", now: int) -> None:
        self._model = Prober(self.registry, scope.reads, _at(scope)).learn()
        self._learned_time = now
        log.info("protocol model learned: %d holder(s), %d source(s), quote %s", len(self._model.holders),
                 len(self._model.sources), self._model.tokens.get(self._model.quote or "", self._model.quote))
        self._save()

    def _save(self) -> None:
        assert self._model is not None
        self.state.set(STATE_RULE, STATE_KEY, {"model": self._model.to_json(), "time": self._learned_time})


def _at(scope: "Scope") -> int | str:
    return scope.block.number if scope.block is not None and scope.pending is None else "latest"
