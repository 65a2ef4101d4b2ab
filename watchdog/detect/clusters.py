"""Attacker clusters: the accounts and contracts findings have named as actors (the sender of an exploit, the
deployer of a suspicious contract and that contract), kept in the network's rule state so that what they do next
is followed even when it touches no watched contract: money coming in (funding) and going out to fresh addresses
or bridges (laundering). Members are forgotten after `keep_blocks`."""

from __future__ import annotations

from typing import Iterable

from watchdog.detect.state import StateCache
from watchdog.finding import Finding, Severity

STATE_RULE, STATE_KEY = "__clusters__", "members"
KEEP_BLOCKS = 50_000   # about a week of mainnet blocks
MAX_MEMBERS = 1_000
ACTOR_LABELS = ("actor", "new_contract")


class AttackerClusters:
    def __init__(self, state: StateCache, keep_blocks: int = KEEP_BLOCKS) -> None:
        self.state, self.keep_blocks = state, keep_blocks

    def members(self) -> dict[str, dict]:
        """Address -> {"since": block, "why": the rule that first named it, "severity": the worst finding naming it}."""
        return dict(self.state.get(STATE_RULE, STATE_KEY) or {})

    def learn(self, findings: Iterable[Finding], block: int | None, allowlist: set[str] = frozenset()) -> None:
        """Name as members the actors of findings at medium or above (never an allowlisted address)."""
        members = self.members()
        before = dict(members)
        for finding in findings:
            if finding.severity < Severity.MEDIUM or finding.pending or (finding.labels or {}).get("allowlisted"):
                continue
            for label in ACTOR_LABELS:
                address = str((finding.labels or {}).get(label) or "").lower()
                if address.startswith("0x") and len(address) == 42 and address not in allowlist:
                    member = members.setdefault(address, {"since": block, "why": finding.rule_id, "severity": "info"})
                    if finding.severity > Severity(member["severity"]):
                        members[address] = {**member, "severity": finding.severity.value}
        if block is not None:
            members = {a: m for a, m in members.items() if m.get("since") is None or block - m["since"] <= self.keep_blocks}
        if len(members) > MAX_MEMBERS:
            members = dict(sorted(members.items(), key=lambda item: item[1].get("since") or 0)[-MAX_MEMBERS:])
        if members != before:
            self.state.set(STATE_RULE, STATE_KEY, members)
