"""The attacker cluster behind a transaction: the sending account, who funded it (the first transaction that
sent it coin), the contracts it called that it deployed, and the contracts the transaction created.

Creators and first funding come from the node's Otterscan namespace (`ots_getContractCreator`,
`ots_searchTransactionsAfter`: anvil, Erigon and Reth serve it); without it they are reported as unknown."""

from __future__ import annotations

from typing import Any

from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.forensics.calltree import Frame, created
from watchdog.forensics.names import Names


def creator(rpc: RpcClient, address: str) -> dict[str, str] | None:
    try:
        found = rpc.call("ots_getContractCreator", [address])
    except RpcAnswerError:
        return None
    return {"creator": found["creator"].lower(), "tx": found["hash"]} if found else None


def first_funding(rpc: RpcClient, account: str, pages: int = 4) -> dict[str, Any] | None:
    """The oldest transaction that sent coin to `account` (None: pre-funded, or not indexed by the node)."""
    after = 0
    for _ in range(pages):
        try:
            page = rpc.call("ots_searchTransactionsAfter", [account, after, 25])
        except RpcAnswerError:
            return None
        txs = sorted(page.get("txs") or [], key=lambda t: (int(t["blockNumber"], 16), int(t["transactionIndex"], 16)))
        for tx in txs:
            if (tx.get("to") or "").lower() == account and int(tx.get("value") or "0x0", 16) > 0:
                return {"funder": tx["from"].lower(), "tx": tx["hash"], "block": int(tx["blockNumber"], 16),
                        "value": str(int(tx["value"], 16))}
        if page.get("lastPage") or not txs:
            return None
        after = int(txs[-1]["blockNumber"], 16)
    return None


def is_contract(rpc: RpcClient, address: str, block: int) -> bool:
    return (rpc.call("eth_getCode", [address, hex(block)]) or "0x") != "0x"


def attacker_cluster(rpc: RpcClient, tx: dict[str, Any], root: Frame, names: Names) -> dict[str, Any]:
    sender = tx["from"].lower()
    block = int(tx["blockNumber"], 16)
    contracts: dict[str, dict[str, Any]] = {}
    for address in created(root):
        contracts[address] = {"address": address, "deployer": sender, "created_in": tx["hash"]}
    to = (tx.get("to") or "").lower()
    if to and names.name(to) is None and to not in contracts and is_contract(rpc, to, block):
        made = creator(rpc, to)
        if made is not None and made["creator"] == sender:
            contracts[to] = {"address": to, "deployer": made["creator"], "created_in": made["tx"]}
    funding = first_funding(rpc, sender)
    return {"sender": sender, "sender_name": names.name(sender), "funding": funding,
            "contracts": list(contracts.values()),
            "addresses": sorted({sender, *contracts}),
            "known_to_manifest": names.name(sender) is not None}
