"""What each page shows, read from the store (and named with the manifest when one is given)."""

from __future__ import annotations

import json
from typing import Any

from watchdog.errors import WatchdogError
from watchdog.manifest import Manifest
from watchdog.respond import comms
from watchdog.respond.evidence import funds_at_risk
from watchdog.respond.report import iso, postmortem
from watchdog.respond.safe import get_proposal, signatures
from watchdog.store import Store, incidents, ledger, proposals


class NotFound(WatchdogError):
    pass


def names_of(manifest: Manifest | None) -> dict[str, str]:
    return {c.address.lower(): c.name for c in manifest.contracts} if manifest else {}


def index(store: Store) -> dict[str, Any]:
    with store.session() as s:
        rows = incidents.incidents(s)
        proposed = proposals.proposals(s)
    return {"incidents": rows, "proposals": proposed, "iso": iso}


def incident(store: Store, incident_id: int, manifest: Manifest | None) -> dict[str, Any]:
    try:
        report = postmortem(store, incident_id)
    except WatchdogError as exc:
        raise NotFound(str(exc)) from exc
    with store.session() as s:
        findings = ledger.findings(s, incident_id=incident_id)
        proposed = proposals.proposals(s, incident_id)
        acknowledged = incidents.events(s, incident_id, kind="acknowledged")
    names = names_of(manifest)
    return {"report": report, "findings": [finding(f, names) for f in findings], "proposals": proposed,
            "protocols": affected(findings, names), "graph": graph(findings, names, report["addresses"]),
            "acknowledged": [e.message for e in acknowledged], "kinds": comms.KINDS, "iso": iso}


def finding(f: Any, names: dict[str, str]) -> dict[str, Any]:
    return {"id": f.id, "rule_id": f.rule_id, "title": f.title, "severity": f.severity, "description": f.description,
            "tx_hash": f.tx_hash, "block": f.block_number, "pending": f.pending, "status": f.status,
            "addresses": [{"address": a, "name": names.get(a.lower())} for a in f.addresses],
            "evidence": json.dumps(f.evidence, indent=2, default=str), "labels": f.labels, "at_risk": funds_at_risk(f)}


def affected(findings: list[Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """Per protocol: the watched contracts its findings name and what their evidence says is at risk."""
    out: dict[str, dict[str, Any]] = {}
    for f in findings:
        row = out.setdefault(f.protocol or f.network, {"protocol": f.protocol or f.network, "contracts": [], "at_risk": []})
        for address in f.addresses:
            name = names.get(address.lower())
            if name and name not in row["contracts"]:
                row["contracts"].append(name)
        risk = funds_at_risk(f)
        if risk and risk not in row["at_risk"]:
            row["at_risk"].append(risk)
    return list(out.values())


def graph(findings: list[Any], names: dict[str, str], cluster: list[str]) -> str:
    """A Mermaid flowchart: the attacker cluster, the contracts each finding names, labelled with its check."""
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}

    def node(address: str) -> str:
        key = address.lower()
        if key not in ids:
            ids[key] = f"n{len(ids)}"
            label = names.get(key) or f"{key[:8]}…{key[-4:]}"
            shape = f'(["{label}"])' if names.get(key) is None else f'["{label}"]'
            lines.append(f"  {ids[key]}{shape}")
        return ids[key]

    edges = set()
    attackers = [a for a in (f.labels.get("actor") for f in findings) if a] or [a for a in cluster if a.lower() not in names]
    for f in findings:
        source = (f.labels or {}).get("actor") or (attackers[0] if attackers else None)
        if source is None:
            continue
        for address in f.addresses:
            if names.get(address.lower()) and (source, address.lower(), f.rule_id) not in edges:
                edges.add((source, address.lower(), f.rule_id))
                lines.append(f"  {node(source)} -->|{f.rule_id}| {node(address)}")
    return "\n".join(lines)


def proposal(store: Store, proposal_id: int) -> dict[str, Any]:
    try:
        p = get_proposal(store, proposal_id)
    except WatchdogError as exc:
        raise NotFound(str(exc)) from exc
    fields = [("chainId", p.chain_id), ("verifyingContract (Safe)", p.safe), ("to", p.to), ("value", p.value),
              ("data", p.data), ("operation", p.operation), ("safeTxGas", p.safe_tx_gas), ("baseGas", p.base_gas),
              ("gasPrice", p.gas_price), ("gasToken", p.gas_token), ("refundReceiver", p.refund_receiver),
              ("nonce", p.nonce)]
    return {"p": p, "fields": fields, "signatures": signatures(store, proposal_id), "call": p.evidence.get("call", {}),
            "simulation": p.evidence.get("simulation", {}), "checklist": p.evidence.get("checklist", []),
            "findings": p.evidence.get("findings", []), "at_risk": p.evidence.get("funds_at_risk", []),
            "recovery": p.evidence.get("recovery"), "iso": iso}
