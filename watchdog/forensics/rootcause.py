"""A root-cause line drawn from the rules' evidence: the most severe finding's check says what went wrong."""

from __future__ import annotations

from typing import Any

from watchdog.finding import Severity


def root_cause(findings: list[Any]) -> str:
    """`findings`: records with rule_id, severity, evidence, description (the tx's or the incident's)."""
    if not findings:
        return "no finding explains this transaction"
    ordered = sorted(findings, key=lambda f: -Severity(f.severity).rank)
    by_rule = {f.rule_id: f for f in ordered}
    consumed = by_rule.get("price-manipulation.consumed-price")
    if consumed is not None:
        e = consumed.evidence
        return (f"the protocol consumed a manipulable price: {e.get('adapter')} returned {_num(e.get('consumed_price'))} "
                f"while {e.get('reference')} said {_num(e.get('reference_price'))} ({_pct(e.get('deviation'))}) inside "
                "the attack transaction: its source follows a spot price that one swap moves")
    trip = by_rule.get("price-manipulation.round-trip")
    if trip is not None:
        e = trip.evidence
        return (f"a pool price the protocol depends on ({e.get('pair')}) was pushed {_pct(e.get('peak_move'))} and back "
                "within one transaction")
    for rule in ("privileged-change.ownership", "privileged-change.implementation", "privileged-change.oracle-source",
                 "privileged-change.admin", "privileged-change.role", "privileged-change.silent-upgrade"):
        change = by_rule.get(rule)
        if change is not None:
            e = change.evidence
            via = " through the protocol's Safe (its signers' keys are compromised)" if e.get("by_governance") else ""
            return (f"a privileged change not expected by governance: {e.get('contract')} {e.get('event') or e.get('kind')} "
                    f"{e.get('args') or ''} sent by {e.get('sender')}{via}").strip()
    stale = by_rule.get("oracle-health.stale") or by_rule.get("oracle-health.divergence") or by_rule.get("oracle-health.jump")
    if stale is not None:
        return f"the protocol priced from an unhealthy oracle: {stale.description or stale.rule_id}"
    worst = ordered[0]
    return f"{worst.rule_id}: {worst.description or worst.title}"


def _num(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, (int, float)) else str(value)


def _pct(value: Any) -> str:
    return f"{value:+.1%}" if isinstance(value, (int, float)) else "?"
