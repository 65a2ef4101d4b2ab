"""privileged-change: ownership, roles, admin, implementation (EIP-1967), oracle source and parameter changes
on watched contracts, with who did what. Parameter and role changes executed by the protocol's Safe weigh one
step less (hand-overs never do: a compromised Safe looks like governance); changes configured as expected are
informational."""

from __future__ import annotations

import re

from watchdog.detect import Check, Context, Rule, Severity
from watchdog.detect.model.prices import appraise, outlier, read_prices

IMPLEMENTATION_SLOT = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC
ADMIN_SLOT = 0xB53127684A568B3173AE13B9F8A6016E243E63B6E8EE1178D6A717850B5D6103
DEFAULT_ADMIN_ROLE = "0x" + "00" * 32

# event name -> the kind of change (the check), and a severity when it differs from the check's usual one
KNOWN = {
    "OwnershipTransferred": ("ownership", None),
    "OwnershipTransferStarted": ("ownership", Severity.MEDIUM),   # a two-step hand-over, not done yet
    "RoleGranted": ("role", None),
    "RoleRevoked": ("role", None),
    "RoleAdminChanged": ("role-admin", None),
    "Upgraded": ("implementation", None),
    "BeaconUpgraded": ("implementation", None),
    "AdminChanged": ("admin", None),
    "Unpaused": ("unpause", None),
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
EXPECTED = ("expected",)
# Who receives a hand-over: the event argument naming the new holder of the key.
RECIPIENT = {"OwnershipTransferred": "newOwner", "OwnershipTransferStarted": "newOwner", "RoleGranted": "account",
             "AdminChanged": "newAdmin"}
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
        "divergence": 0.25,  # a price source swapped in this far off the other sources of its asset is alarming
    }
    checks = {
        "ownership": Check("Ownership changed", Severity.HIGH, EXPECTED,
                           "OwnershipTransferred (medium: OwnershipTransferStarted) on a watched contract; a hand-over "
                           "of a core contract to an address outside the manifest is high even when only started."),
        "role": Check("Role granted or revoked", Severity.MEDIUM, EXPECTED,
                      "RoleGranted / RoleRevoked; high when the default admin role is granted, or any role of a "
                      "core contract to an address outside the manifest."),
        "role-admin": Check("Role admin changed", Severity.HIGH, EXPECTED, "RoleAdminChanged."),
        "implementation": Check("Implementation upgraded", Severity.HIGH, EXPECTED, "Upgraded / BeaconUpgraded."),
        "admin": Check("Proxy admin changed", Severity.HIGH, EXPECTED, "AdminChanged."),
        "oracle-source": Check("Oracle source changed", Severity.HIGH, ("divergence", *EXPECTED),
                               "A change event naming an oracle, feed, aggregator or source (`OracleSet`, `NewPriceOracle`); "
                               "medium when every price source the event names prices within `divergence` of the "
                               "other sources of its asset."),
        "parameter": Check("Parameter changed", Severity.MEDIUM, EXPECTED,
                           "A change event naming a setting (`SetFee`, `LtvSet`, `MaxStalenessChanged`)."),
        "unpause": Check("Contract unpaused", Severity.MEDIUM, EXPECTED, "Unpaused."),
        "source-replaced": Check("Price source replaced by an owner", Severity.MEDIUM, ("divergence", *EXPECTED),
                                 "An owner's call made a watched contract read another price source (learned by "
                                 "reading its views again, whatever it emitted); high when the new source is "
                                 "`divergence` off the other sources of its asset or gives no price."),
        "silent-upgrade": Check("EIP-1967 slot changed without an event", Severity.CRITICAL, (),
                                "The implementation or admin slot of a watched contract changed in a block with no "
                                "Upgraded / AdminChanged event."),
    }
    needs = {"trace": "changes made through the protocol's Safe (they weigh less)"}
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

    def on_tx(self, ctx: Context):
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
            if not ctx.enabled(kind):
                continue
            expected = self._expected(ctx, watched.name, entry.event, entry.args or {})
            if governance is None:
                governance = self._by_governance(ctx)
            if self._handed_outside(ctx, watched.address, entry.event, entry.args or {}):
                severity = max(severity, Severity.HIGH)  # preparation: a key of the protocol now held by a stranger
            args = {k: str(v) if isinstance(v, int) else v for k, v in (entry.args or {}).items()}
            appraisal = self._appraise(ctx, watched.address, args) if kind == "oracle-source" else None
            if appraisal and appraisal["in_line"] and not self._handed_outside(ctx, watched.address, entry.event, entry.args or {}):
                severity = min(severity, Severity.MEDIUM)  # a rotation to a source that agrees with the market
            if expected:
                severity = Severity.INFO
            elif governance and kind not in SOVEREIGN:
                severity = LOWER[severity]
            yield ctx.finding(
                check=kind, title=f"{watched.name}: {entry.event}" + (" (expected)" if expected else ""),
                severity=severity,
                description=(f"{ctx.tx.sender} changed {kind} of {watched.name} ({entry.event} {args})"
                             + (" through the protocol's Safe" if governance else "") + "."),
                addresses=[watched.address, ctx.tx.sender, *(v for v in args.values() if _is_address(v))],
                evidence={"contract": watched.name, "kind": kind, "event": entry.event, "args": args,
                          "sender": ctx.tx.sender, "via": ctx.tx.to, "by_governance": governance, "expected": expected,
                          **({"new_sources": appraisal["sources"]} if appraisal else {})},
                labels={"actor": ctx.tx.sender, "kind": kind, "expected": expected},
                key=f"{watched.address}:{entry.event}:{nth}",
            )

    on_pending = on_tx

    def _appraise(self, ctx: Context, contract: str, args: dict) -> dict | None:
        """The price sources an oracle change names, each priced against its asset's other sources: in line when
        every one of them gives a price within `divergence` of its peers. None when the model has nothing to
        weigh them with (no model, no price source named, no peer)."""
        model = ctx.model
        named = sorted({str(v).lower() for v in args.values() if _is_address(v)} - {contract, "0x" + "00" * 20})
        if model is None or not named:
            return None
        limit = ctx.params_of("oracle-source")["divergence"]
        sources, in_line = [], True
        for address in named:
            found = appraise(model, ctx.registry, ctx.scope.reads, ctx.at, address)
            if found is None:
                continue
            source, price, off = found
            if price and off is None:
                return None  # a price with nothing to compare it with: the event alone speaks
            in_line = in_line and bool(price) and abs(off.gap) < limit
            sources.append({"address": address, "name": source.name, "price": price,
                            "gap": off.gap if off else None, "witnesses": off.witnesses if off else []})
        return {"sources": sources, "in_line": in_line} if sources else None

    def needs_trace(self, ctx: Context) -> bool:
        # whether a change came through the protocol's Safe is read in the trace, once there is a change to weigh
        safe = ctx.registry.safe
        if not safe or safe in (ctx.tx.to, ctx.tx.sender):
            return False
        for entry in ctx.logs:
            watched = ctx.registry.get(entry.address)
            if watched is not None and entry.event is not None and watched.role not in ("token", "amm_pair"):
                kind, _ = self._classify(entry.event, entry.args or {})
                if kind is not None and ctx.enabled(kind):
                    return True
        return False

    def on_block(self, ctx: Context):
        if ctx.enabled("silent-upgrade"):
            yield from self._silent_upgrades(ctx)
        if ctx.enabled("oracle-source"):
            yield from self._aggregator_changes(ctx)
        if ctx.enabled("source-replaced"):
            yield from self._sources_replaced(ctx)

    @staticmethod
    def _handed_outside(ctx: Context, contract: str, event: str, args: dict) -> bool:
        """A hand-over of a core contract's key to an address the manifest does not know."""
        recipient = str(args.get(RECIPIENT.get(event, ""), "")).lower()
        return (_is_address(recipient) and ctx.registry.is_core(contract) and ctx.registry.get(recipient) is None
                and recipient != (ctx.registry.safe or "") and recipient != "0x" + "00" * 20)

    def _sources_replaced(self, ctx: Context):
        model = ctx.model
        for change in ctx.source_changes:
            holder = model.holders[change.holder] if model else None
            if holder is None:
                continue
            new = model.sources.get(change.after) if change.after else None
            prices = read_prices(model, ctx.scope.reads, ctx.at, {change.after}) if new else {}
            off = outlier(model, new, prices) if new else None

            def name(address: str | None) -> str:
                return model.sources[address].name if address in model.sources else address or "nothing"

            alarming = new is not None and (not prices.get(new.address)
                                            or (off is not None and abs(off.gap) >= ctx.params_of("source-replaced")["divergence"]))
            sender = next((t.sender for t in ctx.txs.values() if t.to == holder.address or t.to in holder.owners), None)
            yield ctx.finding(
                check="source-replaced", severity=Severity.HIGH if alarming else None,
                title=f"{holder.name} now reads {name(change.after)}" + (f" for {change.key}" if change.key else ""),
                description=(f"After a call by {sender or 'its owner'}, {holder.name}'s {change.via}"
                             + (f"({change.key})" if change.key else "") + f" names {name(change.after)} instead of "
                             f"{name(change.before)}" + (f"; {off.describe}" if off else "") + "."),
                addresses=[a for a in (change.after or change.holder, sender) if a],  # what reads the new source
                evidence={"contract": holder.name, "kind": "source-replaced", "by_governance": sender == ctx.registry.safe,
                          "view": change.via, "key": change.key, "before": change.before,
                          "after": change.after, "sender": sender, "gap": off.gap if off else None,
                          "witnesses": off.witnesses if off else []},
                labels={"actor": sender, "kind": "source-replaced"} if sender else {"kind": "source-replaced"},
                key=f"{holder.address}:{change.key}:{change.via}:{change.after}",
            )

    @staticmethod
    def _aggregator_changes(ctx: Context):
        """A feed proxy pointed at another aggregator. Chainlink's EACAggregatorProxy emits nothing when it does:
        the change shows only as the proxy's `aggregator()` answering another address after a call to it."""
        called = {tx.to: tx for tx in ctx.txs.values() if tx.to}
        for feed in ctx.registry.role("oracle_feed"):
            if feed.address not in called:
                continue
            before, after = ctx.aggregator(feed.address, ctx.before), ctx.aggregator(feed.address, ctx.at)
            if before is None or after is None or before == after:
                continue
            sender = called[feed.address].sender
            yield ctx.finding(
                check="oracle-source", title=f"{feed.name}: aggregator replaced",
                description=f"{sender} pointed the feed proxy {feed.name} from aggregator {before} to {after}.",
                addresses=[feed.address, sender, after],
                evidence={"contract": feed.name, "kind": "oracle-source", "aggregator_before": before,
                          "aggregator_after": after, "sender": sender},
                labels={"actor": sender, "kind": "oracle-source"}, key=f"{feed.address}:aggregator:{after}",
            )

    @staticmethod
    def _classify(event: str, args: dict) -> tuple[str | None, Severity]:
        if event in KNOWN:
            kind, severity = KNOWN[event]
            if event == "RoleGranted" and args.get("role") == DEFAULT_ADMIN_ROLE:
                severity = Severity.HIGH
            return kind, severity or PrivilegedChange.checks[kind].severity
        if event in ROUTINE:
            return None, Severity.INFO
        change = CHANGE_EVENT.match(event)
        if change is None:
            return None, Severity.INFO
        subject = change["after"] or change["before"]
        if ORACLE_WORDS.search(subject):
            return "oracle-source", Severity.HIGH
        if (change["prefix"] == "Update" or change["suffix"] == "Updated") and not SETTING_WORDS.search(subject):
            return None, Severity.INFO
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
        return any(frame.sender == safe for frame in ctx.frames())

    def _silent_upgrades(self, ctx: Context):
        """EIP-1967 slots that changed in this block without an Upgraded/AdminChanged event."""
        touched = {t.to for t in ctx.txs.values() if t.to} | {e.address for e in ctx.logs}
        announced = {e.address for e in ctx.logs if e.event in ("Upgraded", "AdminChanged", "BeaconUpgraded")}
        for address in sorted(touched - announced):
            watched = ctx.registry.get(address)
            if watched is None or watched.role in ("token", "amm_pair"):
                continue
            for slot, what in ((IMPLEMENTATION_SLOT, "implementation"), (ADMIN_SLOT, "admin")):
                before, after = ctx.storage(address, slot, ctx.before), ctx.storage(address, slot, ctx.at)
                if before is None or after is None or before == after:
                    continue  # unchanged, or a block the node keeps no state for
                before, after = f"0x{before:064x}", f"0x{after:064x}"
                yield ctx.finding(
                    check="silent-upgrade", title=f"{watched.name}: EIP-1967 {what} changed without an event",
                    description=f"The {what} slot of {watched.name} went from {before} to {after} in block {ctx.block.number}.",
                    addresses=[address], evidence={"contract": watched.name, "kind": what, "slot": hex(slot),
                                                   "before": before, "after": after},
                    key=f"{address}:slot:{what}",
                )


def _is_address(value: object) -> bool:
    return isinstance(value, str) and value.startswith("0x") and len(value) == 42
