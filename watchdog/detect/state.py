"""Per-rule persistent state (RuleState rows of one network), cached in memory and written back in one transaction."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from watchdog.store import Store, rulestate


class StateCache:
    """Reads RuleState rows once, keeps changes in memory until `flush` (the caller picks the transaction)."""

    def __init__(self, store: Store | None, network: str = "") -> None:
        self.store = store
        self.network = network
        self._values: dict[tuple[str, str], Any] = {}
        self._dirty: set[tuple[str, str]] = set()

    def get(self, rule_id: str, key: str, default: Any = None) -> Any:
        slot = (rule_id, key)
        if slot not in self._values:
            self._values[slot] = self._load(rule_id, key)
        value = self._values[slot]
        return copy.deepcopy(default) if value is None else value

    def set(self, rule_id: str, key: str, value: Any) -> None:
        self._values[(rule_id, key)] = value
        self._dirty.add((rule_id, key))

    def _load(self, rule_id: str, key: str) -> Any:
        if self.store is None:
            return None
        with self.store.session() as s:
            return copy.deepcopy(rulestate.get_value(s, self.network, rule_id, key))

    def flush(self, session: Session | None = None) -> None:
        """Write changed values; inside `session` when given (e.g. the follower's checkpoint transaction)."""
        if not self._dirty or self.store is None:
            self._dirty.clear()
            return
        if session is None:
            with self.store.session() as own:
                self._write(own)
        else:
            written = set(self._dirty)

            def forget(_session: Session) -> None:  # the caller's transaction failed: reload from the store
                for slot in written:
                    self._values.pop(slot, None)

            event.listen(session, "after_rollback", forget, once=True)
            self._write(session)
        self._dirty.clear()

    def _write(self, s: Session) -> None:
        for rule_id, key in sorted(self._dirty):
            rulestate.put_value(s, self.network, rule_id, key, copy.deepcopy(self._values[(rule_id, key)]))


class RuleStateView:
    """What one rule sees: `ctx.state.get(key, default)` / `ctx.state.set(key, value)` (JSON values)."""

    def __init__(self, cache: StateCache, rule_id: str) -> None:
        self._cache, self._rule_id = cache, rule_id

    def get(self, key: str, default: Any = None) -> Any:
        return self._cache.get(self._rule_id, key, default)

    def set(self, key: str, value: Any) -> None:
        self._cache.set(self._rule_id, key, value)
