"""privileged-change: ownership, roles, admin, implementation (EIP-1967), oracle source and parameter changes
on watched contracts, with who did what. Parameter and role changes executed by the protocol's Safe weigh one
step less (hand-overs never do: a compromised Safe looks like governance); changes configured as expected are
informational."""

from __future__ import annotations

import re

from watchdog.detect import Context, Rule, Severity, Trigger

IMPLEMENTATION_SLOT = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC
ADMIN_SLOT = 0xB53127684A568B3173AE13B9F8A6016E243E63B6E8EE1178D6A717850B5D6103
DEFAULT_ADMIN_ROLE = "0x" + "00" * 32

# event name -> (kind, usual severity)
KNOWN = {
    "OwnershipTransferred": ("ownership", Severity.HIGH),
    "OwnershipTransferStarted": ("ownership", Severity.MEDIUM),
    "RoleGranted": ("role", Severity.MEDIUM),
    "RoleRevoked": ("role", Severity.MEDIUM),
    "RoleAdminChanged": ("role-admin", Severity.HIGH),
    "Upgraded": ("implementation", Severity.HIGH),
    "BeaconUpgraded": ("implementation", Severity.HIGH),
    "AdminChanged": ("admin", Severity.HIGH),
    "Unpaused": ("unpause", Severity.MEDIUM),
}
# A change event names what changed and says it changed: `SetFee`, `FeeSet`, `OracleChanged`, `NewAdmin`, `LtvUpdated`.
CHANGE_EVENT = re.compile(r"^(?:(?P<prefix>Set|Update|New)(?P<after>[A-Z]\w*)|(?P<before>[A-Z]\w*?)(?P<suffix>Set|Changed|Updated))$")
ORACLE_WORDS = re.compile(r"oracle|feed|aggregator|source", re.I)
# "Update" is also what keepers do to data (a TWAP window, an index, a price): an update counts as a change of
# configuration only when its subject names a setting. A bare `Updated` names nothing and is never one.
SETTING_WORDS = re.compile(
    r"(Fee|Param|Parameter|Config|Configuration|Limit|Cap|Ltv|Threshold|Factor|Risk|Leverage|Margin|Bps|Staleness|"
    r"Heartbeat|Delay|Period|Window|Premium|Interest|Admin|Owner|Keeper|Guardian|Pauser|Market|Collateral|Recipient|"
    r"Treasury|Operator|Manager|Governance|Controller|Allowlist|Whitelist)s?$")
ROUTINE = {"Transfer", "Approval", "Sync", "Swap", "Mint", "Burn", "AnswerUpdated", "NewRound", "Paused"}
# Kinds that hand over the protocol: a compromised Safe looks like governance, so these never weigh less.
SOVEREIGN = {"ownership", "admin", "implementation", "oracle-source", "role-admin"}
LOWER = {Severity.CRITICAL: Severity.HIGH, Severity.HIGH: Severity.MEDIUM, Severity.MEDIUM: Severity.LOW,
         Severity.LOW: Severity.INFO, Severity.INFO: Severity.INFO}


class PrivilegedChange(Rule):
    id = "privileged-change"
    title = "Privileged change"
    severity = Severity.HIGH
    confidence = 0.95
    description = ("Ownership, roles, proxy admin or implementation, oracle sources or risk parameters of a watched "
                   "contract changed. Expected changes (see `expected`) are informational; parameter and role changes "
                   "made through the protocol's Safe weigh one step less.")
    references = ("EIP-1967 storage slots; OpenZeppelin Ownable/AccessControl events",)
    params = {
        # [{"contract": "<manifest name>", "event": "SetFee", "args": {"fee": 30}, "sender": "0x..."}]: routine
        "expected": [],
    }
    triggers = frozenset({Trigger.TX, Trigger.PENDING, Trigger.BLOCK})
    events = (
        "OwnershipTransferred(address indexed previousOwner, address indexed newOwner)",
        "OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner)",
        "RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)",
        "RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)",
        "RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole)",
        "Upgraded(address indexed implementation)",
        "BeaconUpgraded(address indexed beacon)",
        "AdminChanged(address previousAdmin, address newAdmin)",
        "Unpaused(address account)",
    )

    def evaluate(self, ctx: Context):
        if ctx.trigger is Trigger.BLOCK:
            yield from self._silent_upgrades(ctx)
            return
        governance: bool | None = None  # traced only when there is a change to weigh
        seen: dict[tuple[str, str], int] = {}
        for entry in ctx.logs:
            watched = ctx.registry.get(entry.address)
            if watched is None or entry.event is None or watched.role in ("token", "amm_pair"):
                continue
            kind, severity = self._classify(entry.event, entry.args or {})
            if kind is None:
                continue
            # n-th such event of this contract in the tx: stable when a reorg re-includes the tx elsewhere
            nth = seen[(watched.address, entry.event)] = seen.get((watched.address, entry.event), 0) + 1
            expected = self._expected(ctx, watched.name, entry.event, entry.args or {})
            if governance is None:
                governance = self._by_governance(ctx)
            if expected:
                severity = Severity.INFO
            elif governance and kind not in SOVEREIGN:
                severity = LOWER[severity]
            args = {k: str(v) if isinstance(v, int) else v for k, v in (entry.args or {}).items()}
            yield ctx.finding(
                title=f"{watched.name}: {entry.event}" + (" (expected)" if expected else ""),
                severity=severity,
                description=(f"{ctx.tx.sender} changed {kind} of {watched.name} ({entry.event} {args})"
                             + (" through the protocol's Safe" if governance else "") + "."),
                addresses=[watched.address, ctx.tx.sender, *(v for v in args.values() if _is_address(v))],
                evidence={"contract": watched.name, "kind": kind, "event": entry.event, "args": args,
                          "sender": ctx.tx.sender, "via": ctx.tx.to, "by_governance": governance, "expected": expected},
                labels={"actor": ctx.tx.sender, "kind": kind, "expected": expected},
                key=f"{watched.address}:{entry.event}:{nth}",
            )

    @staticmethod
    def _classify(event: str, args: dict) -> tuple[str | None, Severity]:
        if event in KNOWN:
            kind, severity = KNOWN[event]
            if event == "RoleGranted" and args.get("role") == DEFAULT_ADMIN_ROLE:
                severity = Severity.HIGH
            return kind, severity
        if event in ROUTINE:
            return None, Severity.INFO
        change = CHANGE_EVENT.match(event)
        if change is None:
            return None, Severity.INFO
        subject = change["after"] or change["before"]
        if ORACLE_WORDS.search(subject):
            return "oracle-source", Severity.HIGH
        if change["prefix"] == "Update" or change["suffix"] == "Updated":
            return ("parameter", Severity.MEDIUM) if SETTING_WORDS.search(subject) else (None, Severity.INFO)
        return "parameter", Severity.MEDIUM

    def _expected(self, ctx: Context, contract: str, event: str, args: dict) -> bool:
        for item in self.params["expected"]:
            if item.get("contract", contract) != contract or item.get("event", event) != event:
                continue
            if "sender" in item and item["sender"].lower() != ctx.tx.sender:
                continue
            if all(str(args.get(k)).lower() == str(v).lower() for k, v in item.get("args", {}).items()):
                return True
        return False

    @staticmethod
    def _by_governance(ctx: Context) -> bool:
        safe = ctx.registry.safe
        if not safe:
            return False
        if ctx.tx.to == safe or ctx.tx.sender == safe:
            return True
        trace = ctx.trace
        return trace is not None and any(frame.sender == safe for frame in trace.walk())

    def _silent_upgrades(self, ctx: Context):
        """EIP-1967 slots that changed in this block without an Upgraded/AdminChanged event."""
        touched = {t.to for t in ctx.txs.values() if t.to} | {e.address for e in ctx.logs}
        announced = {e.address for e in ctx.logs if e.event in ("Upgraded", "AdminChanged", "BeaconUpgraded")}
        for address in sorted(touched - announced):
            watched = ctx.registry.get(address)
            if watched is None or watched.role in ("token", "amm_pair"):
                continue
            for slot, what in ((IMPLEMENTATION_SLOT, "implementation"), (ADMIN_SLOT, "admin")):
                before = ctx.reader.storage_at(address, slot, ctx.before)
                after = ctx.reader.storage_at(address, slot, ctx.at)
                if int(before, 16) == int(after, 16):
                    continue
                yield ctx.finding(
                    title=f"{watched.name}: EIP-1967 {what} changed without an event",
                    severity=Severity.CRITICAL,
                    description=f"The {what} slot of {watched.name} went from {before} to {after} in block {ctx.block.number}.",
                    addresses=[address], evidence={"contract": watched.name, "kind": what, "slot": hex(slot),
                                                   "before": before, "after": after},
                    key=f"{address}:slot:{what}",
                )


def _is_address(value: object) -> bool:
    return isinstance(value, str) and value.startswith("0x") and len(value) == 42
