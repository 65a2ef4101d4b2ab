"""The rule API: one class per rule, metadata as class attributes, one `evaluate(ctx)` yielding findings.

Read like slither's detectors: what the rule is about lives on the class; the engine finds subclasses in
the files of `rules/` and of the user's rule directories, merges configured parameters over `params`,
and calls `evaluate` for each trigger the rule declares.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

from watchdog.finding import Finding, Severity

if TYPE_CHECKING:
    from watchdog.detect.context import Context


class Trigger(str, Enum):
    BLOCK = "block"        # once per block, with all its logs and transactions
    TX = "tx"              # once per mined transaction of the block
    PENDING = "pending"    # once per pending transaction, simulated against the latest state
    SCHEDULE = "schedule"  # on a timer, without any event (heartbeats, staleness)


class Rule:
    """Base class of every rule. Subclasses set the metadata below and implement `evaluate`."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.MEDIUM   # the usual severity; findings may raise or lower it
    confidence: ClassVar[float] = 0.5
    description: ClassVar[str] = ""
    references: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[dict[str, Any]] = {}             # defaults; the config's `rules.<id>` table overrides
    triggers: ClassVar[frozenset[Trigger]] = frozenset({Trigger.TX})
    topics: ClassVar[tuple[str, ...]] = ()   # event signatures wanted from ANY emitter (also decoded)
    events: ClassVar[tuple[str, ...]] = ()   # event signatures to decode on watched emitters

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        unknown = set(params or {}) - set(type(self).params) - {"cooldown", "allowlist"}
        if unknown:
            from watchdog.errors import ConfigError

            raise ConfigError(
                f"rules.{self.id}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(type(self).params)) or 'none'}"
            )
        defaults = {"cooldown": 0, "allowlist": [], **type(self).params}
        for name, value in (params or {}).items():
            _check_type(self.id, name, value, defaults[name])
        self.params: dict[str, Any] = {**defaults, **(params or {})}

    def evaluate(self, ctx: "Context") -> Iterable[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<rule {self.id}>"


def _check_type(rule_id: str, name: str, value: Any, default: Any) -> None:
    """A configured parameter must have the kind of its default (numbers stay numbers, lists stay lists)."""
    from watchdog.errors import ConfigError

    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, (int, float)):
        ok, kind = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif isinstance(default, (list, tuple)):
        ok, kind = isinstance(value, (list, tuple)), "a list"
    elif isinstance(default, dict):
        ok, kind = isinstance(value, dict), "a table"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    else:
        ok, kind = True, ""
    if not ok:
        raise ConfigError(f"rules.{rule_id}.{name}: expected {kind} (default {default!r}), got {value!r}")
