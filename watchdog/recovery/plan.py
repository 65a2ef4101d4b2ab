"""The recovery plan of an incident: live checks, the replay on a fork, and the unpause drafted for the Safe only
when every check holds and the replay fails. The plan is kept on the incident's timeline (kind `recovery`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watchdog.chain.rpc import RpcClient
from watchdog.devnet import Anvil
from watchdog.errors import WatchdogError
from watchdog.manifest import Manifest
from watchdog.recovery import checks as c
from watchdog.recovery.chain import word
from watchdog.recovery.replay import attack_transactions, attacker_accounts, cluster_transactions, lift, paused_scopes, replay
from watchdog.recovery.safetx import safe_exec
from watchdog.respond.incidents import IncidentBook
from watchdog.respond.plan import TxPlan
from watchdog.respond.rpc import Rpc
from watchdog.respond.safe import SafeProposals
from watchdog.store import Store, incidents, ledger
from watchdog.store.responder import Incident


@dataclass
class RecoveryOptions:
    band: float = 0.02  # how far the consumed price may be from its reference
    blocks: int = 5  # for this many blocks in a row
    tolerance: float = 0.001  # share of a holder's balance that may be missing


def recover(store: Store, incident_id: int, rpc_url: str, manifest: Manifest,
            options: RecoveryOptions | None = None, *, record: bool = True) -> dict[str, Any]:
    options = options or RecoveryOptions()
    with store.session() as s:
        incident = incidents.incident(s, incident_id)
        findings = [f for f in ledger.findings(s, incident_id=incident_id) if f.status == "active"]
    rpc = RpcClient(rpc_url)
    try:
        chain_id = int(rpc.call("eth_chainId"), 16)
        if chain_id != manifest.chain_id:
            raise WatchdogError(f"{rpc_url} serves chain {chain_id}, the manifest is for chain {manifest.chain_id}: use the protocol's network")
        head = int(rpc.call("eth_blockNumber"), 16)
        cluster = attacker_accounts(rpc, {a.lower() for a in incident.addresses})
        first = incident.first_block or head
        hashes = {f.tx_hash for f in findings if f.tx_hash and not f.pending} | set(cluster_transactions(rpc, cluster, first, head))
        txs = attack_transactions(rpc, sorted(hashes))
        signers = sorted({s for tx, receipt in txs if (call := safe_exec(tx, receipt)) for s in call.signers})
        wanted = c.applicable(findings, signers)
        live = {"price-in-band": lambda: c.price_in_band(rpc, manifest, findings, options.band, options.blocks),
                "keys-revoked": lambda: c.keys_revoked(rpc, manifest, signers),
                "pointers-reverted": lambda: c.pointers_reverted(rpc, manifest, findings),
                "balances-reconciled": lambda: c.balances_reconciled(rpc, manifest, first - 1, options.tolerance)}
        results = {name: live[name]() for name in wanted if name in live}
        paused = paused_scopes(rpc, manifest)
        with Anvil(chain_id=chain_id, extra_args=("--fork-url", rpc_url)) as node:
            fork = RpcClient(node.url)
            try:
                if "spot-insensitive" in wanted:
                    results["spot-insensitive"] = c.spot_insensitive(fork, manifest, findings, options.band)
                lifted = lift(fork, paused)
                replayed = replay(fork, manifest, txs, cluster | {tx["from"].lower() for tx, _ in txs})
            finally:
                fork.close()
        grace = grace_periods(rpc, manifest, paused)
    finally:
        rpc.close()
    ordered = [results[name].as_dict() for name in wanted]
    ready = bool(ordered) and all(x["holds"] for x in ordered) and not replayed["succeeded"] and bool(paused)
    plan: dict[str, Any] = {
        "incident": incident_id, "checks": ordered, "paused": [{k: p[k] for k in ("contract", "scope", "function")} for p in paused],
        "replay": {**replayed, "pause_lifted": lifted}, "grace": grace, "ready": ready, "unpause": [],
        "verdict": verdict(ordered, replayed, paused, ready),
    }
    if ready:
        plan["unpause"] = draft_unpause(store, rpc_url, manifest, incident, paused, plan)
    plan["markdown"] = markdown_lines(plan)
    if record:
        IncidentBook(store).note(incident_id, "recovery", plan["verdict"], plan=plan)
        store.audit("operator", "recovery_plan", str(incident_id), ready=ready, replay_succeeded=replayed["succeeded"])
    return plan


def verdict(checks: list[dict[str, Any]], replayed: dict[str, Any], paused: list[dict[str, Any]], ready: bool) -> str:
    if not paused:
        return "nothing is paused: there is no pause to lift"
    failing = [x["id"] for x in checks if not x["holds"]]
    parts = []
    if failing:
        parts.append(f"checks not holding: {', '.join(failing)}")
    if replayed["succeeded"]:
        parts.append("the attack still succeeds on a fork with the pause lifted")
    return "ready to unpause: every check holds and the replayed attack fails" if ready else "keep the pause: " + "; ".join(parts)


def grace_periods(rpc: RpcClient, manifest: Manifest, paused: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grace periods the paused contracts keep after an unpause (views named *grace*), so that liquidations wait."""
    out = []
    for name in sorted({p["contract"] for p in paused}):
        entry = manifest.by_name(name)
        for item in manifest.abi_of(entry):
            if (item.get("type") == "function" and "grace" in item.get("name", "").lower() and not item.get("inputs")
                    and [o.get("type") for o in item.get("outputs") or []] == ["uint256"]):
                seconds = word(rpc, entry.address, f"{item['name']}()(uint256)")
                if seconds is not None:
                    out.append({"contract": name, "view": item["name"], "seconds": seconds,
                                "note": f"liquidations on {name} wait {seconds} s after the unpause"})
    return out


def draft_unpause(store: Store, rpc_url: str, manifest: Manifest, incident: Incident, paused: list[dict[str, Any]],
                  plan: dict[str, Any]) -> list[dict[str, Any]]:
    """One Safe proposal per paused scope (stored, so signers review and sign it like a pause)."""
    if manifest.safe is None:
        return [{"error": "the manifest has no `safe`: unpause by the contracts' owner"}]
    safe = SafeProposals(store, Rpc(rpc_url), incident.network, manifest.chain_id, manifest.safe.address)
    drafted = []
    for p in (x for x in paused if x["data"]):
        tx = TxPlan("unpause", p["target"], f"unpause:{p['scope']}", p["target"], p["data"], p["check"], p["contract"],
                    {"contract": p["contract"], "address": p["target"], "function": p["function"], "args": {"scope": p["scope"]}})
        proposal, created = safe.propose(tx, evidence={"recovery": {k: plan[k] for k in ("checks", "replay", "grace", "verdict")}},
                                         description=f"Unpause {p['contract']}: incident #{incident.id} recovered",
                                         incident_id=incident.id)
        drafted.append({"proposal": proposal.id, "contract": p["contract"], "nonce": proposal.nonce,
                        "safe_tx_hash": proposal.safe_tx_hash, "new": created})
    return drafted


def markdown_lines(plan: dict[str, Any]) -> list[str]:
    lines = [f"**{plan['verdict']}**", "", "| check | state | detail |", "|---|---|---|"]
    lines += [f"| {x['title']} (`{x['id']}`) | {'holds' if x['holds'] else 'FAILS'} | {x['detail']} |" for x in plan["checks"]]
    r = plan["replay"]
    gain = "not priced" if r["attacker_gain"] is None else f"{r['attacker_gain']:,.2f} {r['quote'] or ''}".strip()
    lifted = ", ".join(f"{x['contract']} as {x['as']}" for x in r["pause_lifted"]) or "nothing paused"
    lines += ["", f"Replay on a fork with the pause lifted ({lifted}): "
              f"the attack {'still succeeds' if r['succeeded'] else 'fails'}; attacker's gain {gain}.", ""]
    lines += [f"- `{t['tx']}` from `{t['from']}`: originally {t['originally']}, replayed {t['replayed']}"
              + (f" ({t['note']})" if t["note"] else "") for t in r["transactions"]]
    lines += [f"- {g['note']}" for g in plan["grace"]]
    if plan["unpause"]:
        lines += ["", "Unpause drafted for the Safe:"] + [
            f"- proposal #{u.get('proposal')} {u.get('contract')} nonce {u.get('nonce')} safeTxHash `{u.get('safe_tx_hash')}`"
            for u in plan["unpause"]]
    else:
        lines += ["", "No unpause drafted."]
    return lines + [""]
