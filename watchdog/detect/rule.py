"""The rule API: metadata on the class, one method per trigger, one id per distinct check.

Read like slither's detectors: what the rule is about lives on the class. A rule implements the handlers of
the triggers it cares about (`on_block`, `on_tx`, `on_pending`, `on_schedule`); the engine calls exactly the
ones a class overrides. Each distinct check the rule makes is declared in `checks`; a finding names its check
and is stored as `<rule id>.<check>` (`oracle-health.stale`), so that one check can be switched off or tuned
alone with a `[rules."<rule id>.<check>"]` table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping

from watchdog.errors import ConfigError
from watchdog.finding import Finding, Severity

if TYPE_CHECKING:
    from watchdog.detect.context import Context


class Trigger(str, Enum):
    BLOCK = "block"        # once per block, with all its logs and transactions
    TX = "tx"              # once per mined transaction of the block
    PENDING = "pending"    # once per pending transaction, simulated against the latest state
    SCHEDULE = "schedule"  # on a timer, without any event (heartbeats, staleness)


# The handler a rule overrides to be run on each trigger.
HANDLERS: dict[Trigger, str] = {
    Trigger.BLOCK: "on_block", Trigger.TX: "on_tx", Trigger.PENDING: "on_pending", Trigger.SCHEDULE: "on_schedule",
}
# False-positive controls every rule and every check accepts beside its own parameters.
CONTROLS: dict[str, Any] = {"cooldown": 0, "allowlist": []}
NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True, slots=True)
class Check:
    """One distinct check of a rule: its title, usual severity, the parameters it uses, one line about it."""

    title: str
    severity: Severity
    params: tuple[str, ...] = ()
    description: str = ""


class Rule:
    """Base class of every rule: set the metadata below and implement the handlers of your triggers."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.MEDIUM   # the usual severity; checks and findings may differ
    confidence: ClassVar[float] = 0.5
    description: ClassVar[str] = ""
    references: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[dict[str, Any]] = {}             # defaults; `[rules.<id>]` overrides them for every check
    checks: ClassVar[Mapping[str, Check]] = {}        # check name -> Check; empty: findings carry the bare id
    topics: ClassVar[tuple[str, ...]] = ()   # event signatures wanted from ANY emitter (also decoded)
    events: ClassVar[tuple[str, ...]] = ()   # event signatures to decode on watched emitters
    # node capabilities (watchdog.chain.capabilities) -> what the rule cannot see without them
    needs: ClassVar[Mapping[str, str]] = {}

    def __init__(self, params: Mapping[str, Any] | None = None,
                 checks: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """`params`: the `[rules.<id>]` table; `checks`: check name -> its `[rules."<id>.<check>"]` table."""
        defaults = {**CONTROLS, **type(self).params}
        _check_params(f"rules.{self.id}", dict(params or {}), defaults)
        self.params: dict[str, Any] = {**defaults, **(params or {})}
        self._on: set[str] = set(self.checks)
        self._tuned: dict[str, dict[str, Any]] = {}
        for name, table in (checks or {}).items():
            self._configure(name, dict(table))

    def _configure(self, name: str, table: dict[str, Any]) -> None:
        where = f'rules."{self.id}.{name}"'
        check = self.checks.get(name)
        if check is None:
            known = ", ".join(sorted(self.checks)) or f"none (configure the whole rule in [rules.{self.id}])"
            raise ConfigError(f"{where}: {self.id} has no check {name!r}; its checks: {known}")
        if not table.pop("enabled", True):
            self._on.discard(name)
        defaults = {**CONTROLS, **type(self).params}
        _check_params(where, table, {p: defaults[p] for p in (*check.params, *CONTROLS)},
                      hint=f"set it in [rules.{self.id}] or in the table of a check that uses it")
        self._tuned[name] = table

    # -- what the engine and the context ask ---------------------------------------------------------
    def enabled(self, check: str | None) -> bool:
        """Whether findings of `check` are wanted (a rule without checks is on as a whole)."""
        return check is None if not self.checks else check in self._on

    def params_for(self, check: str | None) -> dict[str, Any]:
        """The parameters `check` runs with: the rule's, overridden by the check's own table."""
        return {**self.params, **self._tuned.get(check or "", {})}

    @classmethod
    def triggers(cls) -> frozenset[Trigger]:
        """The triggers this rule handles: those whose handler the class overrides."""
        return frozenset(t for t, name in HANDLERS.items() if getattr(cls, name) is not getattr(Rule, name))

    # -- the handlers (override those you need) ------------------------------------------------------
    def on_block(self, ctx: "Context") -> Iterable[Finding]:
        """Once per block: `ctx.logs` are the block's watched logs, `ctx.txs` its transactions."""
        return ()

    def on_tx(self, ctx: "Context") -> Iterable[Finding]:
        """Once per mined transaction: `ctx.tx`, `ctx.tx_logs()`, `ctx.trace`."""
        return ()

    def on_pending(self, ctx: "Context") -> Iterable[Finding]:
        """Once per pending transaction, simulated at the head (`ctx.trace` and logs come from the simulation)."""
        return ()

    def on_schedule(self, ctx: "Context") -> Iterable[Finding]:
        """On a timer, at the head: staleness, heartbeats."""
        return ()

    def needs_trace(self, ctx: "Context") -> bool:
        """Whether this rule will read the trace of this mined transaction (`ctx.tx`), decided from its logs,
        calldata and receipt before any rule runs: the context then fetches every trace the block needs in one
        request. A trace read without being declared here is still fetched, alone."""
        return False

    def __repr__(self) -> str:
        return f"<rule {self.id}>"


def validate_class(cls: type[Rule], where: str) -> None:
    """A rule class a user can run: an id, handlers of the new API, checks that name declared parameters."""
    name = cls.__name__
    if not cls.id:
        raise ConfigError(f"rule class {name} in {where} has no `id`: set a class attribute id = \"my-rule\"")
    if not NAME.fullmatch(cls.id):
        raise ConfigError(f"rule {cls.id!r} in {where}: an id is lowercase letters, digits and dashes (no dots)")
    if callable(getattr(cls, "evaluate", None)):
        raise ConfigError(f"rule {cls.id!r} in {where} defines `evaluate`: split it into on_block / on_tx / "
                          "on_pending / on_schedule methods (one per trigger)")
    if not cls.triggers():
        raise ConfigError(f"rule {cls.id!r} in {where} handles no trigger: define on_block, on_tx, on_pending "
                          "or on_schedule")
    for check, spec in cls.checks.items():
        if not NAME.fullmatch(check):
            raise ConfigError(f"rule {cls.id!r} in {where}: check name {check!r} must be lowercase letters, digits "
                              "and dashes")
        unknown = sorted(set(spec.params) - set(cls.params))
        if unknown:
            raise ConfigError(f"rule {cls.id!r} in {where}: check {check!r} uses {', '.join(unknown)}, which "
                              "`params` does not declare: add a default there")


def _check_params(where: str, given: dict[str, Any], allowed: dict[str, Any], hint: str = "") -> None:
    """Every given parameter is allowed here and has the kind of its default."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        known = ", ".join(sorted(set(allowed) - set(CONTROLS))) or "none"
        raise ConfigError(f"{where}: unknown parameter(s) {', '.join(unknown)}; known: {known}"
                          + (f" ({hint})" if hint else ""))
    for name, value in given.items():
        _check_type(where, name, value, allowed[name])


def _check_type(where: str, name: str, value: Any, default: Any) -> None:
    """A configured parameter must have the kind of its default (numbers stay numbers, lists stay lists)."""
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
        raise ConfigError(f"{where}.{name}: expected {kind} (default {default!r}), got {value!r}")
