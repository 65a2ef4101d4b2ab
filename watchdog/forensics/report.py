"""One transaction's forensics as a JSON-ready dict, and its Markdown lines for the incident report."""

from __future__ import annotations

from typing import Any, Callable

from watchdog.chain.rpc import RpcClient
from watchdog.errors import WatchdogError
from watchdog.forensics.calltree import created, decoded, trace
from watchdog.forensics.cluster import attacker_cluster
from watchdog.forensics.flows import combine, native_moves, net, token_moves
from watchdog.forensics.names import Names
from watchdog.forensics.prices import Pricer, sources_moved, valued
from watchdog.forensics.rootcause import root_cause
from watchdog.manifest import Manifest


def investigate(tx_hash: str, rpc: RpcClient | str, manifest: Manifest | None = None,
                findings: list[Any] | None = None) -> dict[str, Any]:
    """Everything a responder wants to know about one transaction. `findings`: the rules' findings about it
    (store records), for the root-cause line."""
    client = RpcClient(rpc) if isinstance(rpc, str) else rpc
    try:
        return _investigate(tx_hash.lower(), client, manifest, findings or [])
    finally:
        if isinstance(rpc, str):
            client.close()


def _investigate(tx_hash: str, rpc: RpcClient, manifest: Manifest | None, findings: list[Any]) -> dict[str, Any]:
    tx = rpc.call("eth_getTransactionByHash", [tx_hash])
    receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
    if tx is None or receipt is None:
        raise WatchdogError(f"transaction {tx_hash} is not mined on this node: check the hash and the --rpc network")
    names = Names.of(manifest)
    block = int(receipt["blockNumber"], 16)
    root = trace(rpc, tx_hash)
    logs = receipt.get("logs") or []
    gas_paid = int(receipt["gasUsed"], 16) * int(receipt.get("effectiveGasPrice") or "0x0", 16)
    moved = combine(net(token_moves(logs)), net(native_moves(root, tx["from"].lower(), gas_paid)))
    pricer = Pricer(rpc, manifest, block - 1)
    balances = valued(moved, pricer, names)
    cluster = attacker_cluster(rpc, tx, root, names)
    own = set(cluster["addresses"])
    gain = [r["value"] for r in balances if r["address"] in own and r["value"] is not None]
    losers = [r for r in balances if (r["value"] or 0) < 0]
    mine = [f for f in findings if (f.tx_hash or "").lower() == tx_hash] or findings
    return {
        "tx": tx_hash, "block": block, "status": "success" if receipt["status"] == "0x1" else "reverted",
        "from": tx["from"].lower(), "to": (tx.get("to") or "").lower(), "to_name": names.name(tx.get("to")),
        "function": names.function(tx.get("input")),
        "quote": pricer.quote_name,
        "call_tree": decoded(root, names),
        "flows": balances,
        "attacker_gain": sum(gain) if gain else None,
        "victims": [{"address": r["address"], "name": r["name"], "loss": -r["value"]} for r in losers
                    if r["address"] not in own],
        "sources_moved": sources_moved(rpc, logs, block, names, pricer),
        "contracts_created": created(root),
        "cluster": cluster,
        "root_cause": root_cause(mine),
    }


def markdown_lines(report: dict[str, Any]) -> list[str]:
    quote = report["quote"] or "quote asset"
    lines = [f"### Transaction `{report['tx']}` (block {report['block']}, {report['status']})", "",
             f"- Call: {report['function'] or '?'} on {report['to_name'] or report['to']} from `{report['from']}`",
             f"- Root cause: {report['root_cause']}",
             f"- Attacker's net gain: {_money(report['attacker_gain'], quote)}"]
    lines += [f"- Loss of {v['name'] or v['address']}: {_money(v['loss'], quote)}" for v in report["victims"]]
    c = report["cluster"]
    funding = c["funding"]
    lines.append(f"- Attacker cluster: sender `{c['sender']}`" + (f" ({c['sender_name']})" if c["sender_name"] else "")
                 + (f", funded by `{funding['funder']}` in `{funding['tx']}`" if funding else ", first funding unknown")
                 + "".join(f", contract `{x['address']}` (deployed by `{x['deployer']}`)" for x in c["contracts"]))
    for s in report["sources_moved"]:
        lines.append(f"- Price source {s['name'] or s['source']} ({s['kind']}): before {_num(s['before'])}, low {_num(s['low'])}, "
                     f"high {_num(s['high'])}, after {_num(s['after'])} (max move {_pct(s['max_move'])})")
    lines += ["", "| address | net flows | value |", "|---|---|---|"]
    for row in report["flows"]:
        tokens = ", ".join(f"{t}: {a}" for t, a in row["tokens"].items())
        lines.append(f"| {row['name'] or row['address']} | {tokens} | {_money(row['value'], quote)} |")
    lines += ["", "Call tree:", "", "```"]
    lines += [f"{'  ' * r['depth']}{r['kind'].lower()} {r['to_name'] or r['to']}.{r['function']}"
              + (f" value {r['value']}" if r["value"] != "0" else "") + (f" REVERTED ({r['error']})" if r["error"] else "")
              for r in report["call_tree"]]
    return lines + ["```", ""]


def _money(value: float | None, quote: str) -> str:
    return "not priced" if value is None else f"{value:,.2f} {quote}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def of_findings(rpc_url: str, manifest: Manifest | None) -> Callable[[list[Any]], list[dict[str, Any]]]:
    """For an incident report: the forensics of every mined transaction its findings name, with its Markdown."""

    def run(findings: list[Any]) -> list[dict[str, Any]]:
        out = []
        client = RpcClient(rpc_url)
        try:
            for tx in dict.fromkeys(f.tx_hash for f in findings if f.tx_hash and not f.pending):
                try:
                    report = investigate(tx, client, manifest, findings)
                except WatchdogError as exc:
                    out.append({"tx": tx, "error": str(exc)})
                    continue
                out.append({**report, "markdown": markdown_lines(report)})
        finally:
            client.close()
        return out

    return run
