"""What pausing a contract means on chain: the call to send and the read that tells it is done.

The manifest says how: through the guardian (`pause(address target, bytes32 scope, string reason)`, checked
with `isPaused(target, scope)`), or by a call the protocol offers — the contract's own `pause()`, or any
function with arguments on any of its contracts — checked by a view (default `paused()`, or a bit of a
packed flags word).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchdog.chain.abi import encode_call
from watchdog.errors import ConfigError
from watchdog.manifest import ContractEntry, Manifest, PauseCheck, PauseSpec

ZERO32 = "0x" + "00" * 32
GUARDIAN_PAUSE = "pause(address,bytes32,string)"
GUARDIAN_IS_PAUSED = "isPaused(address,bytes32)"


@dataclass(frozen=True, slots=True)
class TxPlan:
    """One state-changing call, keyed for idempotency by (kind, target, scope)."""

    kind: str  # pause | safe_exec
    target: str
    scope: str
    to: str
    data: str
    check: dict[str, Any]  # {"to", "data"}: done when non-zero; with "bit": n, that bit set; with "gt": n, above n
    contract: str = ""
    decoded: dict[str, Any] = field(default_factory=dict)  # human-readable call for reports and signers


def pause_plans(manifest: Manifest, entry: ContractEntry, reason: str, kind: str = "pause") -> list[TxPlan]:
    """The calls that pause `entry` as its manifest says, and the reads that tell it is paused. The responder
    sends them (`kind` pause) or proposes them to the Safe (`kind` propose): both take the same, real path."""
    if entry.pause is None:
        raise ConfigError(f"manifest contract {entry.name} has no `pause` section: say how to pause it (via guardian or self)")
    return [_plan(manifest, entry, spec, reason, kind) for spec in entry.pause_paths]


def _plan(manifest: Manifest, entry: ContractEntry, spec: PauseSpec, reason: str, kind: str) -> TxPlan:
    target = entry.address.lower()
    if spec.via == "guardian":
        if not spec.guardian:
            raise ConfigError(f"manifest contract {entry.name}: pause.via is guardian but pause.guardian is empty")
        scope = (spec.scope_id or ZERO32).lower()
        scope_bytes = bytes.fromhex(scope[2:].rjust(64, "0"))
        guardian = spec.guardian.lower()
        data = encode_call(GUARDIAN_PAUSE, [target, scope_bytes, reason[:200]])
        check = {"to": guardian, "data": encode_call(GUARDIAN_IS_PAUSED, [target, scope_bytes])}
        return TxPlan(kind, target, scope, guardian, data, check, entry.name,
                      {"contract": "guardian", "address": guardian, "function": GUARDIAN_PAUSE,
                       "args": {"target": target, "scope": scope, "reason": reason[:200]}})
    to = manifest.address_of(spec.to, entry)
    args = manifest.call_arguments(spec.call, spec.args, entry)
    check_spec = spec.check or PauseCheck()
    check_to = manifest.address_of(check_spec.to, entry)
    check = {"to": check_to, "data": encode_call(check_spec.call, manifest.call_arguments(check_spec.call, check_spec.args, entry))}
    if check_spec.bit is not None:
        check["bit"] = check_spec.bit
    data = encode_call(spec.call, args)
    # one action per contract and pause call: pausing two reserves through one configurator are two actions
    scope = "self" if not spec.args and spec.to is None else f"self:{to}:{data}"
    called = manifest_name(manifest, to) or to
    return TxPlan(kind, target, scope, to, data, check, entry.name,
                  {"contract": called, "address": to, "function": spec.call,
                   "args": {str(n): _shown(v) for n, v in enumerate(args)},
                   "check": {"contract": manifest_name(manifest, check_to) or check_to, "call": check_spec.call,
                             "args": [_shown(v) for v in check_spec.args], "bit": check_spec.bit}})


def manifest_name(manifest: Manifest, address: str) -> str | None:
    return next((c.name for c in manifest.contracts if c.address.lower() == address.lower()), None)


def _shown(value: Any) -> Any:
    return "0x" + value.hex() if isinstance(value, bytes) else value
