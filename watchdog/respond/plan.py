"""What pausing a contract means on chain: the call to send and the read that tells it is done.

The manifest says how: through the guardian (`pause(address target, bytes32 scope, string reason)`,
checked with `isPaused(target, scope)`) or by the contract's own function (checked with `paused()`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from eth_abi import encode

from watchdog.chain.abi import selector
from watchdog.errors import ConfigError
from watchdog.manifest import ContractEntry, Manifest

ZERO32 = "0x" + "00" * 32
GUARDIAN_PAUSE = "pause(address,bytes32,string)"
GUARDIAN_IS_PAUSED = "isPaused(address,bytes32)"
OWNER_PAUSE = "pause(bytes32,uint64)"  # IGuardable: callable by the guardian and by governance (the owner)
OWNER_IS_PAUSED = "isPaused(bytes32)"


@dataclass(frozen=True, slots=True)
class TxPlan:
    """One state-changing call, keyed for idempotency by (kind, target, scope)."""

    kind: str  # pause | safe_exec
    target: str
    scope: str
    to: str
    data: str
    check: dict[str, Any]  # {"to", "data"} true when done, or {"to", "data", "gt": n}
    contract: str = ""
    decoded: dict[str, Any] = field(default_factory=dict)  # human-readable call for reports and signers


def pause_plan(manifest: Manifest, entry: ContractEntry, reason: str) -> TxPlan:
    if entry.pause is None:
        raise ConfigError(f"manifest contract {entry.name} has no `pause` section: say how to pause it (via guardian or self)")
    spec = entry.pause
    target = entry.address.lower()
    if spec.via == "guardian":
        if not spec.guardian:
            raise ConfigError(f"manifest contract {entry.name}: pause.via is guardian but pause.guardian is empty")
        scope = (spec.scope_id or ZERO32).lower()
        scope_bytes = bytes.fromhex(scope[2:].rjust(64, "0"))
        data = selector(GUARDIAN_PAUSE) + encode(["address", "bytes32", "string"], [target, scope_bytes, reason[:200]]).hex()
        check = selector(GUARDIAN_IS_PAUSED) + encode(["address", "bytes32"], [target, scope_bytes]).hex()
        guardian = spec.guardian.lower()
        return TxPlan("pause", target, scope, guardian, data, {"to": guardian, "data": check}, entry.name,
                      {"contract": "guardian", "address": guardian, "function": GUARDIAN_PAUSE,
                       "args": {"target": target, "scope": scope, "reason": reason[:200]}})
    function = spec.function.replace(" ", "")
    if not function.endswith("()"):
        raise ConfigError(f"manifest contract {entry.name}: pause.function {spec.function!r} must take no arguments, e.g. pause()")
    return TxPlan("pause", target, "self", target, selector(function), {"to": target, "data": selector("paused()")},
                  entry.name, {"contract": entry.name, "address": target, "function": function, "args": {}})


def governance_pause_plan(manifest: Manifest, entry: ContractEntry, safe: str, until: int) -> TxPlan:
    """The call the Safe (governance, owner of the target) makes to pause: the target's own
    `pause(scope, until)` for guardian-scoped contracts, or its own pause function otherwise."""
    if entry.pause is None:
        raise ConfigError(f"manifest contract {entry.name} has no `pause` section: say how to pause it (via guardian or self)")
    target = entry.address.lower()
    if entry.pause.via == "self":
        own = pause_plan(manifest, entry, "")
        return TxPlan("propose", target, own.scope, target, own.data, own.check, entry.name, own.decoded)
    scope = (entry.pause.scope_id or ZERO32).lower()
    scope_bytes = bytes.fromhex(scope[2:].rjust(64, "0"))
    data = selector(OWNER_PAUSE) + encode(["bytes32", "uint64"], [scope_bytes, until]).hex()
    check = selector(OWNER_IS_PAUSED) + encode(["bytes32"], [scope_bytes]).hex()
    return TxPlan("propose", target, scope, target, data, {"to": target, "data": check}, entry.name,
                  {"contract": entry.name, "address": target, "function": OWNER_PAUSE,
                   "args": {"scope": scope, "until": until,
                            "until_utc": datetime.fromtimestamp(until, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
                   "caller": safe.lower()})


def pausable(manifest: Manifest) -> list[ContractEntry]:
    return [c for c in manifest.contracts if c.pause is not None]


def select_targets(manifest: Manifest, names: list[str], addresses: list[str]) -> list[ContractEntry]:
    """Manifest entries to pause: explicit names, "all", or "affected" (pausable contracts among the
    finding's addresses; all pausable ones when the finding names none, e.g. an oracle finding)."""
    chosen: dict[str, ContractEntry] = {}
    wanted = {a.lower() for a in addresses}
    for name in names:
        if name == "all":
            chosen.update({c.name: c for c in pausable(manifest)})
        elif name == "affected":
            hit = [c for c in pausable(manifest) if c.address.lower() in wanted]
            chosen.update({c.name: c for c in (hit or pausable(manifest))})
        else:
            try:
                chosen[name] = manifest.by_name(name)
            except KeyError:
                raise ConfigError(f"playbook target {name!r} is not a contract of the manifest: use a manifest name, 'affected' or 'all'") from None
    return list(chosen.values())
