"""An incident's communications, drafted from what the store knows of it, reviewed by a person, never published by
the watchdog on its own:

- **status**: the public status update: what is affected, what is paused, what users should do;
- **exchanges**: the notice to exchanges and integrators: the affected contracts and assets, the deposits to halt,
  the attacker addresses to flag;
- **security**: the packet for security response groups: the transactions, their traces, the attacker's addresses and
  contracts, where the funds went, what is paused, and the protocol's security, bug-bounty and safe-harbor contacts.

Each is Markdown and JSON. Drafts are versioned on the incident's timeline (events of kind `communication`): a new
version only when the content changed. A version is approved by a named reviewer; only an approved version can be
sent, and only through the notifiers `[communications] notifiers` lists (the team's internal channels).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timezone
from typing import Any

from watchdog.config.response import CommunicationsConfig
from watchdog.detect.model import ProtocolModel
from watchdog.errors import WatchdogError
from watchdog.respond.incidents import IncidentBook
from watchdog.respond.isolation import load_model
from watchdog.respond.notify import DeliveryError, Notice, Notifications
from watchdog.store import Store, actions, incidents, ledger
from watchdog.store.responder import ActionStatus, Incident, IncidentEvent, IncidentStatus

Contacts = CommunicationsConfig
KINDS = {"status": "public status update", "exchanges": "notice to exchanges and integrators",
         "security": "security-response packet"}
EVENT = "communication"


# -- what the store knows ------------------------------------------------------------------------------------
def facts(store: Store, incident_id: int, forensics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the messages say, read from the incident's findings, actions and timeline."""
    with store.session() as s:
        incident = incidents.incident(s, incident_id)
        findings = ledger.findings(s, incident_id=incident_id)
        taken = actions.actions(s, incident_id)
        timeline = incidents.events(s, incident_id)
    model = load_model(store, incident.network)
    affected = _affected(timeline, model, incident)
    paused = [{"contract": a.contract or a.target, "address": a.target, "scope": a.scope, "tx": a.tx_hash,
               "block": a.block_number, "network": a.network}
              for a in taken if a.kind == "pause" and a.status in (ActionStatus.MINED, ActionStatus.ALREADY_PAUSED)]
    stress = next((e.detail.get("stress") for e in reversed(timeline) if e.kind == "stress" and e.detail.get("stress")), None)
    cluster = _cluster(incident, forensics or [])
    return {
        "incident": incident.id, "title": incident.title, "severity": incident.severity, "status": incident.status,
        "network": incident.network, "protocol": incident.protocol, "first_block": incident.first_block,
        "as_of": _as_of(timeline, incident),
        "affected": affected,
        "assets": _assets(model, affected, findings),
        "paused": paused,
        "transactions": [{"tx": f.tx_hash, "block": f.block_number, "rule": f.rule_id, "title": f.title,
                          "pending": f.pending} for f in findings if f.tx_hash],
        "attackers": cluster["addresses"],
        "attacker_contracts": cluster["contracts"],
        "funding": cluster["funding"],
        "destinations": _destinations(forensics or [], set(cluster["addresses"])),
        "traces": [{"tx": r["tx"], "calls": [f"{'  ' * c['depth']}{c['to_name'] or c['to']}.{c['function']}"
                                             for c in r.get("call_tree", [])[:40]]} for r in forensics or [] if "call_tree" in r],
        "stress": stress,
    }


def _as_of(timeline: list[IncidentEvent], incident: Incident) -> str:
    """The time of the last thing that happened to the incident (not of the drafting: a draft says the same twice)."""
    moments = [e.at for e in timeline if e.kind != EVENT] or [incident.first_seen]
    last = max(m if m.tzinfo else m.replace(tzinfo=timezone.utc) for m in moments)
    return last.strftime("%Y-%m-%dT%H:%M:%SZ")


def _affected(timeline: list[IncidentEvent], model: ProtocolModel | None, incident: Incident) -> list[dict[str, Any]]:
    """The contracts the isolation named (its blast radius), else the model's reading of the incident's addresses."""
    radius: dict[str, dict[str, Any]] = {}
    for event in timeline:
        for row in (event.detail or {}).get("blast_radius") or []:
            radius.setdefault(row["address"], {"contract": row["contract"], "address": row["address"], "why": row["why"],
                                               "value_at_risk": row.get("value_at_risk"), "markets": row.get("markets", [])})
    if radius or model is None:
        return list(radius.values())
    return [{"contract": model.holders[h].name, "address": h, "why": why, "value_at_risk": None, "markets": []}
            for h, why in model.affected([a.lower() for a in incident.addresses]).items()]


def _assets(model: ProtocolModel | None, affected: list[dict[str, Any]], findings: list[Any]) -> list[dict[str, Any]]:
    """The tokens at stake: each affected holder's claim token (its shares, whose deposits should halt) and what it
    holds, and the tokens the findings name."""
    out: dict[str, dict[str, Any]] = {}
    if model is not None:
        for row in affected:
            holder = model.holders.get(row["address"])
            if holder is None:
                continue
            if holder.claim_token:
                out.setdefault(holder.claim_token, {"token": model.tokens.get(holder.claim_token, holder.claim_token),
                                                    "address": holder.claim_token, "why": f"claim on {holder.name}"})
            for token in holder.holds:
                out.setdefault(token, {"token": model.tokens.get(token, token), "address": token,
                                       "why": f"held by {holder.name}"})
    for f in findings:
        token = str((f.evidence or {}).get("token") or "")
        if token.startswith("0x") and len(token) == 42:
            name = model.tokens.get(token.lower(), token) if model else token
            out.setdefault(token.lower(), {"token": name, "address": token.lower(), "why": f"moved in {f.rule_id}"})
    return list(out.values())


def _cluster(incident: Incident, forensics: list[dict[str, Any]]) -> dict[str, Any]:
    addresses = set(incident.addresses)
    contracts, funding = [], []
    for report in forensics:
        c = report.get("cluster") or {}
        if c.get("known_to_manifest"):
            continue
        addresses |= set(c.get("addresses") or [])
        contracts += [x for x in c.get("contracts") or [] if x["address"] not in {y["address"] for y in contracts}]
        if c.get("funding") and c["funding"] not in funding:
            funding.append(c["funding"])
    return {"addresses": sorted(a.lower() for a in addresses), "contracts": contracts, "funding": funding}


def _destinations(forensics: list[dict[str, Any]], attackers: set[str]) -> list[dict[str, Any]]:
    """Where value went: the addresses that gained in the attack transactions, the attacker's first."""
    out = []
    for report in forensics:
        for row in report.get("flows") or []:
            gained = {t: a for t, a in row["tokens"].items() if not str(a).startswith("-")}
            if gained and (row["value"] or 0) > 0:
                out.append({"tx": report["tx"], "address": row["address"], "name": row.get("name"), "tokens": gained,
                            "value": row["value"], "attacker": row["address"] in attackers})
    return sorted(out, key=lambda r: (not r["attacker"], -(r["value"] or 0)))


# -- the three messages --------------------------------------------------------------------------------------
def compose(data: dict[str, Any], contacts: Contacts) -> dict[str, dict[str, Any]]:
    """kind -> {"json": ..., "markdown": ...} for the three communications."""
    name = contacts.protocol_name or data["protocol"] or data["network"]
    return {"status": _status(data, contacts, name), "exchanges": _exchanges(data, contacts, name),
            "security": _security(data, contacts, name)}


def _state(data: dict[str, Any]) -> str:
    if data["status"] == IncidentStatus.RESOLVED:
        return "resolved"
    return "contained: the affected contracts are paused" if data["paused"] else "investigating"


def _status(data: dict[str, Any], contacts: Contacts, name: str) -> dict[str, Any]:
    affected = [a["contract"] for a in data["affected"]]
    paused = [p["contract"] + (f" (scope {p['scope'][:6]}…{p['scope'][-4:]})" if p["scope"].startswith("0x") else "")
              for p in data["paused"]]
    actions = []
    if affected:
        actions.append(f"Do not deposit into or trade on {', '.join(affected)} until the all-clear.")
        actions.append(f"If you approved {', '.join(affected)} to spend your tokens, revoke those approvals.")
    if data["attacker_contracts"] or data["attackers"]:
        actions.append("Do not interact with the addresses the security packet names (the attacker's), and do not "
                       "accept tokens from them.")
    if data["paused"]:
        actions.append("Positions in the paused contracts cannot be changed while they are paused; liquidations there "
                       "wait too, and resume only after a grace period once the pause is lifted.")
    actions.append("Beware of impersonators: official updates come only from the channels below.")
    costs = ((data["stress"] or {}).get("pausing_costs") or {}) if data["paused"] else {}
    content = {"kind": "status", "incident": data["incident"], "protocol": name, "state": _state(data),
               "severity": data["severity"], "as_of": data["as_of"], "affected": affected, "paused": paused,
               "accounts_unable_to_act": costs.get("accounts"), "what_users_should_do": actions,
               "channels": contacts.status_channels, "status_page": contacts.status_page}
    lines = [f"# {name}: incident update", "", f"**As of {data['as_of']}: {content['state']}.**", "",
             f"We are responding to a security incident on {data['network']}: {data['title']}.", "",
             "## What is affected", ""]
    lines += [f"- {a['contract']}" + (f": {a['why']}" if a.get("why") else "") for a in data["affected"]] or ["- Being assessed."]
    lines += ["", "## What is paused", ""]
    lines += [f"- {p}" for p in paused] or ["- Nothing is paused at this time."]
    if costs.get("accounts"):
        lines += ["", f"{costs['accounts']} account(s) with open positions cannot change them while the pause lasts."]
    lines += ["", "## What you should do", ""] + [f"- {a}" for a in actions]
    where = [*contacts.status_channels, *([contacts.status_page] if contacts.status_page else [])]
    lines += ["", "## Updates", "", f"Next updates: {', '.join(where)}." if where else "Next updates will follow here."]
    return {"json": content, "markdown": "\n".join(lines) + "\n"}


def _exchanges(data: dict[str, Any], contacts: Contacts, name: str) -> dict[str, Any]:
    halt = [a for a in data["assets"]]
    content = {"kind": "exchanges", "incident": data["incident"], "protocol": name, "network": data["network"],
               "state": _state(data), "as_of": data["as_of"],
               "affected_contracts": [{"name": a["contract"], "address": a["address"], "why": a["why"]} for a in data["affected"]],
               "assets": halt, "halt_deposits_of": [a["address"] for a in halt],
               "flag_addresses": data["attackers"], "paused": data["paused"], "contact": contacts.security_contact,
               "to": contacts.exchanges}
    lines = [f"# {name}: notice to exchanges and integrators", "",
             f"Incident #{data['incident']} on {data['network']} ({data['severity']}), {content['state']}, as of {data['as_of']}.",
             "", "## Affected contracts", "", "| contract | address | why |", "|---|---|---|"]
    lines += [f"| {a['contract']} | `{a['address']}` | {a['why']} |" for a in data["affected"]]
    lines += ["", "## Assets: please halt deposits of", "", "| token | address | why |", "|---|---|---|"]
    lines += [f"| {a['token']} | `{a['address']}` | {a['why']} |" for a in halt]
    lines += ["", "## Addresses to flag (deposits from them are proceeds of the attack)", ""]
    lines += [f"- `{a}`" for a in data["attackers"]] or ["- None identified yet."]
    lines += ["", "## Integrations", "", "Pause integrations that read the affected contracts' prices or accept their "
              "claim tokens as collateral until the all-clear."]
    if contacts.security_contact:
        lines += ["", f"Contact: {contacts.security_contact}"]
    return {"json": content, "markdown": "\n".join(lines) + "\n"}


def _security(data: dict[str, Any], contacts: Contacts, name: str) -> dict[str, Any]:
    content = {"kind": "security", "incident": data["incident"], "protocol": name, "network": data["network"],
               "severity": data["severity"], "first_block": data["first_block"], "as_of": data["as_of"],
               "transactions": data["transactions"], "traces": data["traces"], "attackers": data["attackers"],
               "attacker_contracts": data["attacker_contracts"], "funding": data["funding"],
               "fund_destinations": data["destinations"], "paused": data["paused"],
               "contacts": {"security": contacts.security_contact, "bug_bounty": contacts.bug_bounty,
                            "safe_harbor": contacts.safe_harbor}, "to": contacts.security_groups}
    lines = [f"# {name}: security-response packet", "",
             f"Incident #{data['incident']} on {data['network']}, severity {data['severity']}, first attack block "
             f"{data['first_block']}, as of {data['as_of']}.", "", "## Transactions", "", "| tx | block | rule | finding |",
             "|---|---|---|---|"]
    by_tx: dict[str, list[dict[str, Any]]] = {}
    for t in data["transactions"]:
        by_tx.setdefault(t["tx"], []).append(t)
    lines += [f"| `{tx}` | {rows[0]['block']} | {', '.join(r['rule'] for r in rows)} | {rows[0]['title']} |"
              for tx, rows in by_tx.items()]
    lines += ["", "## Attacker", ""] + [f"- address `{a}`" for a in data["attackers"]]
    lines += [f"- contract `{c['address']}` deployed by `{c['deployer']}` in `{c['created_in']}`" for c in data["attacker_contracts"]]
    lines += [f"- funded by `{f['funder']}` in `{f['tx']}`" for f in data["funding"]]
    lines += ["", "## Where the funds went", ""]
    lines += [f"- `{d['address']}`" + (f" ({d['name']})" if d["name"] else "")
              + (", in the attacker's cluster" if d["attacker"] else "")
              + f": received {', '.join(d['tokens'])} worth {d['value']:,.2f} in `{d['tx']}`"
              for d in data["destinations"]] or ["- Not traced yet."]
    for trace in data["traces"]:
        lines += ["", f"Trace of `{trace['tx']}`:", "", "```", *trace["calls"], "```"]
    lines += ["", "## Paused", ""] + [f"- {p['contract']} scope {p['scope']} in `{p['tx']}` (block {p['block']})"
                                      for p in data["paused"]] or ["- Nothing is paused."]
    lines += ["", "## Protocol contacts", "", f"- Security: {contacts.security_contact or 'not configured'}",
              f"- Bug bounty: {contacts.bug_bounty or 'not configured'}",
              f"- Safe harbor: {contacts.safe_harbor or 'not configured'}"]
    return {"json": content, "markdown": "\n".join(lines) + "\n"}


# -- versions on the timeline --------------------------------------------------------------------------------
def _digest(message: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(message["json"], sort_keys=True, default=str).encode()).hexdigest()[:16]


def history(store: Store, incident_id: int) -> dict[str, list[dict[str, Any]]]:
    """kind -> its versions, oldest first, each with its review state (draft, approved, sent)."""
    with store.session() as s:
        timeline = incidents.events(s, incident_id, kind=EVENT)
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for e in timeline:
        d = e.detail or {}
        kind, version = d.get("communication"), d.get("version")
        if kind not in out:
            continue
        if d.get("step") == "draft":
            out[kind].append({"version": version, "state": "draft", "digest": d["digest"], "json": d["json"],
                              "markdown": d["markdown"], "drafted_at": e.at.isoformat(), "reviewed_by": None, "sent_to": []})
            continue
        found = next((v for v in out[kind] if v["version"] == version), None)
        if found is not None and d.get("step") == "approved":
            found["state"], found["reviewed_by"] = "approved", d.get("by")
        elif found is not None and d.get("step") == "sent":
            found["state"], found["sent_to"] = "sent", found["sent_to"] + list(d.get("to") or [])
    return out


def latest(store: Store, incident_id: int) -> dict[str, dict[str, Any]]:
    return {k: v[-1] for k, v in history(store, incident_id).items() if v}


def draft(store: Store, incident_id: int, contacts: Contacts,
          forensics: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Draft the three messages; each that differs from its latest version becomes a new version. The latest of each."""
    messages = compose(facts(store, incident_id, forensics), contacts)
    known = latest(store, incident_id)
    book = IncidentBook(store)
    for kind, message in messages.items():
        digest = _digest(message)
        if kind in known and known[kind]["digest"] == digest:
            continue
        version = (known[kind]["version"] + 1) if kind in known else 1
        book.note(incident_id, EVENT, f"{KINDS[kind]} v{version} drafted: to be reviewed before it is sent",
                  communication=kind, version=version, step="draft", digest=digest, json=message["json"],
                  markdown=message["markdown"])
    return latest(store, incident_id)


def approve(store: Store, incident_id: int, kind: str, version: int, reviewer: str) -> dict[str, Any]:
    found = _version(store, incident_id, kind, version)
    if not reviewer.strip():
        raise WatchdogError("name the reviewer: --by NAME")
    IncidentBook(store).note(incident_id, EVENT, f"{KINDS[kind]} v{version} approved by {reviewer}",
                             communication=kind, version=version, step="approved", by=reviewer)
    store.audit(reviewer, "communication_approved", str(incident_id), kind=kind, version=version)
    return {**found, "state": "approved", "reviewed_by": reviewer}


def send(store: Store, incident_id: int, kind: str, contacts: Contacts, notifications: Notifications,
         names: list[str] | None = None) -> list[str]:
    """Send the latest version of `kind` through the internal notifiers, once a person approved that version."""
    versions = history(store, incident_id).get(_kind(kind))
    if not versions:
        raise WatchdogError(f"incident {incident_id} has no {KINDS[kind]} yet: draft it with `watchdog incidents comms {incident_id}`")
    current = versions[-1]
    if current["state"] == "draft":
        raise WatchdogError(f"{KINDS[kind]} v{current['version']} is not reviewed: approve it first with "
                            f"`watchdog incidents comms {incident_id} --approve {kind} --version {current['version']} --by NAME`")
    allowed = contacts.notifiers
    targets = names or allowed
    refused = [n for n in targets if n not in allowed]
    if refused or not targets:
        raise WatchdogError(f"{', '.join(refused) or 'no notifier'}: communications go only through the notifiers "
                            f"[communications] notifiers lists ({', '.join(allowed) or 'none'})")
    with store.session() as s:
        incident = s.get(Incident, incident_id)
    assert incident is not None
    notice = Notice(incident_id=incident_id, network=incident.network, protocol=incident.protocol,
                    severity=incident.severity, status=incident.status, kind=EVENT, title=f"{KINDS[kind]}: {incident.title}",
                    text=current["markdown"], fields={"communication": kind, "version": current["version"]})
    sent, failed = [], []
    for name in targets:
        notifier = notifications.notifiers.get(name)
        try:
            if notifier is None:
                raise DeliveryError(f"{name}: no such notifier")
            notifier.post(notice, None)  # a message of its own, not a reply in the alert thread
            sent.append(name)
        except (DeliveryError, ValueError, KeyError) as exc:
            failed.append(f"{name} ({exc})")
    if sent:
        IncidentBook(store).note(incident_id, EVENT, f"{KINDS[kind]} v{current['version']} sent to {', '.join(sent)}",
                                 communication=kind, version=current["version"], step="sent", to=sent)
        store.audit("responder", "communication_sent", str(incident_id), kind=kind, version=current["version"], to=sent)
    if failed:
        raise WatchdogError(f"{KINDS[kind]} v{current['version']} not delivered to {', '.join(failed)}"
                            + (f"; delivered to {', '.join(sent)}" if sent else ""))
    return sent


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise WatchdogError(f"{kind!r} is not a communication: use one of {', '.join(KINDS)}")
    return kind


def _version(store: Store, incident_id: int, kind: str, version: int) -> dict[str, Any]:
    found = next((v for v in history(store, incident_id).get(_kind(kind), []) if v["version"] == version), None)
    if found is None:
        raise WatchdogError(f"incident {incident_id} has no {KINDS[kind]} v{version}: see `watchdog incidents comms {incident_id}`")
    return found
