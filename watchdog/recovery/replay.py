"""The incident's attack transactions replayed on a fork of the current state: the pause lifted (as whoever owns
each paused contract), then each attack call re-sent from its sender (impersonated); Safe transactions are
re-approved by the same signers at the Safe's current nonce. The attack would still succeed when the attacker
cluster ends up with more than it had, valued in the quote asset."""

from __future__ import annotations

from typing import Any

from watchdog.chain.rpc import RpcClient
from watchdog.forensics.cluster import creator
from watchdog.forensics.flows import net, token_moves
from watchdog.forensics.names import Names
from watchdog.forensics.prices import Pricer
from watchdog.manifest import Manifest
from watchdog.recovery.chain import call_data, send_as, word
from watchdog.recovery.safetx import resend, safe_exec
from watchdog.respond.plan import pause_plans


def paused_scopes(rpc: RpcClient, manifest: Manifest) -> list[dict[str, Any]]:
    """Every pause path of the manifest that is in force now, with the call that lifts it."""
    out = []
    for entry in (c for c in manifest.contracts if c.pause is not None):
        for plan, spec in zip(pause_plans(manifest, entry, "recovery"), entry.pause_paths):
            if not is_done(rpc, plan.check):
                continue
            if spec.via == "guardian":
                unpause = call_data("unpause(bytes32)", [bytes.fromhex(plan.scope[2:].rjust(64, "0"))])
                function = "unpause(bytes32)"
            elif spec.call == "pause()":
                unpause, function = call_data("unpause()", []), "unpause()"
            else:
                unpause, function = None, None  # no known way to lift it: reported, not guessed
            out.append({"contract": entry.name, "target": entry.address.lower(), "scope": plan.scope,
                        "function": function, "data": unpause, "check": plan.check})
    return out


def is_done(rpc: RpcClient, check: dict[str, Any]) -> bool:
    raw = rpc.call("eth_call", [{"to": check["to"], "data": check["data"]}, "latest"])
    value = int(raw or "0x0", 16) if raw and raw != "0x" else 0
    if "bit" in check:
        return bool(value >> int(check["bit"]) & 1)
    if "gt" in check:
        return value > int(check["gt"])
    return value != 0


def lift(fork: RpcClient, paused: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unpause on the fork as each contract's owner (`owner()`, read now)."""
    lifted = []
    for p in paused:
        owner = word(fork, p["target"], "owner()(address)")
        sent = send_as(fork, owner, p["target"], p["data"]) if p["data"] and owner else None
        ok = sent is not None and sent.ok and not is_done(fork, p["check"])
        lifted.append({"contract": p["contract"], "scope": p["scope"], "as": owner, "lifted": ok,
                       "error": None if ok else (sent.error if sent else "no owner() or no known unpause call")})
    return lifted


def attack_transactions(rpc: RpcClient, hashes: list[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(tx, receipt) of each mined call among `hashes`, in chain order (contract creations are left out: what
    they created is on the fork already)."""
    found = []
    for tx_hash in hashes:
        tx = rpc.call("eth_getTransactionByHash", [tx_hash])
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash]) if tx else None
        if tx and receipt and tx.get("to"):
            found.append((tx, receipt))
    return sorted(found, key=lambda p: (int(p[1]["blockNumber"], 16), int(p[1]["transactionIndex"], 16)))


def replay(fork: RpcClient, manifest: Manifest, txs: list[tuple[dict[str, Any], dict[str, Any]]],
           cluster: set[str]) -> dict[str, Any]:
    rows, logs = [], []
    for tx, receipt in txs:
        sender, to = tx["from"].lower(), tx["to"].lower()
        call = safe_exec(tx, receipt)
        if call is not None:
            sent, note = resend(fork, sender, call)
            cluster |= set(call.signers)
        else:
            sent, note = send_as(fork, sender, to, tx["input"], max(int(tx["gas"], 16), 1_000_000)), ""
        logs += sent.logs
        rows.append({"tx": tx["hash"], "from": sender, "to": to, "safe_signers": call.signers if call else [],
                     "originally": "success" if receipt["status"] == "0x1" else "reverted",
                     "replayed": "success" if sent.ok else "reverted", "replay_tx": sent.tx_hash,
                     "note": note or sent.error or ""})
    moved = net(token_moves(logs))
    head = int(fork.call("eth_blockNumber"), 16)
    pricer = Pricer(fork, manifest, head)
    gained: dict[str, int] = {}
    for address in cluster:
        for token, amount in moved.get(address, {}).items():
            gained[token] = gained.get(token, 0) + amount
    value = pricer.total(gained) if gained else (0.0 if pricer.quote else None)
    names = Names.of(manifest)
    succeeded = value > 0 if value is not None else bool(rows) and all(r["replayed"] == "success" for r in rows)
    return {"transactions": rows, "attacker_gain": value, "quote": pricer.quote_name,
            "gained": {names.name(t) or t: str(a) for t, a in gained.items()}, "succeeded": succeeded}


def attacker_accounts(rpc: RpcClient, addresses: set[str]) -> set[str]:
    """The incident's cluster plus the deployers of its contracts (the accounts that send the attack)."""
    out = set(addresses)
    for address in addresses:
        made = creator(rpc, address)
        if made is not None:
            out.add(made["creator"])
    return out


def cluster_transactions(rpc: RpcClient, cluster: set[str], first: int, last: int, limit: int = 2_000) -> list[str]:
    """Hashes of the transactions sent by or to the cluster in [first, last], the attempts a pause stopped
    included (at most the `limit` latest blocks are read)."""
    found = []
    for number in range(max(first, last - limit + 1), last + 1):
        block = rpc.call("eth_getBlockByNumber", [hex(number), True]) or {}
        for tx in block.get("transactions") or []:
            if tx["from"].lower() in cluster or (tx.get("to") or "").lower() in cluster:
                found.append(tx["hash"])
    return found
