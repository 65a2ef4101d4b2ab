"""The evidence a Safe signer reads and a post-mortem cites: findings, tx hashes, addresses, funds at risk."""

from __future__ import annotations

from typing import Any

from watchdog.store import FindingRecord, Store, incidents, ledger
from watchdog.store.responder import Incident


def funds_at_risk(record: FindingRecord) -> str | None:
    """What a finding says about money: an explicit figure, a drained value, or an attacker's profit."""
    evidence = record.evidence or {}
    if evidence.get("funds_at_risk") is not None:
        return _amount(evidence["funds_at_risk"])
    if evidence.get("outflow") is not None:
        value = evidence.get("value")
        return (f"{_amount(evidence['outflow'])} units of {evidence.get('token')} left {evidence.get('holder')}"
                + (f" (value {_amount(value)} in the quote asset)" if value is not None else ""))
    if evidence.get("profit_estimate") is not None:
        return f"attacker profit about {_amount(evidence['profit_estimate'])} in the quote asset"
    return None


def _amount(value: Any) -> str:
    """Numbers as a person reads them (thousands separators, two decimals at most); anything else as is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,.2f}".removesuffix(".00") if isinstance(value, float) else f"{value:,}"


def incident_evidence(store: Store, incident: Incident) -> dict[str, Any]:
    """What signers read: the incident's findings, tx hashes, addresses, funds at risk."""
    with store.session() as s:
        findings = ledger.findings(s, incident_id=incident.id)
        views = incidents.events(s, incident.id, kind="stress")
    stress = next((e.detail["stress"] for e in reversed(views) if (e.detail or {}).get("stress")), None)
    at_risk = [x for x in (funds_at_risk(f) for f in findings) if x]
    return {
        "incident": {"id": incident.id, "title": incident.title, "severity": incident.severity,
                     "network": incident.network, "protocol": incident.protocol},
        "findings": [{"rule_id": f.rule_id, "title": f.title, "severity": f.severity, "confidence": f.confidence,
                      "tx_hash": f.tx_hash, "block": f.block_number, "pending": f.pending,
                      "addresses": f.addresses, "evidence": f.evidence} for f in findings],
        "tx_hashes": sorted({f.tx_hash for f in findings if f.tx_hash}),
        "addresses": incident.addresses,
        "funds_at_risk": at_risk,
        # the incident's stress view once played (watchdog.stress.incident): what pausing saves and costs
        **({"stress": stress_summary(stress)} if stress else {}),
    }


def stress_summary(view: dict[str, Any]) -> dict[str, Any]:
    """What a signer reads of an incident's stress view: what pausing saves and costs, what a manipulation left."""
    return {k: view.get(k) for k in ("block", "quote", "summary", "pausing_saves", "pausing_costs", "manipulation")}
