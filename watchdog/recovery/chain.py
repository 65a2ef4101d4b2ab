"""Small typed reads and impersonated sends for the recovery (over the shared JSON-RPC client)."""

from __future__ import annotations

import time
from typing import Any

from watchdog.chain.abi import encode_call
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.forensics.prices import read

__all__ = ["read", "Sent", "send_as", "word"]

RICH = hex(10**21)


class Sent:
    def __init__(self, tx_hash: str | None, ok: bool, error: str | None, logs: list[dict[str, Any]]) -> None:
        self.tx_hash, self.ok, self.error, self.logs = tx_hash, ok, error, logs


def send_as(rpc: RpcClient, sender: str, to: str, data: str, gas: int = 5_000_000) -> Sent:
    """Send a call from `sender` on a fork (impersonated, funded for gas); the node refuses or mines it."""
    rpc.call("anvil_impersonateAccount", [sender])
    rpc.call("anvil_setBalance", [sender, RICH])
    try:
        tx_hash = rpc.call("eth_sendTransaction", [{"from": sender, "to": to, "data": data, "gas": hex(gas)}])
    except RpcAnswerError as exc:
        return Sent(None, False, exc.message, [])
    finally:
        rpc.call("anvil_stopImpersonatingAccount", [sender])
    receipt = mined(rpc, tx_hash)
    ok = receipt is not None and receipt["status"] == "0x1"
    return Sent(tx_hash, ok, None if ok else why(rpc, sender, to, data, gas), receipt.get("logs") or [] if receipt else [])


def mined(rpc: RpcClient, tx_hash: str, timeout: float = 30.0) -> dict[str, Any] | None:
    """The receipt, once the fork has mined the transaction (automine answers before the block is sealed)."""
    deadline = time.monotonic() + timeout
    while True:
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None or time.monotonic() > deadline:
            return receipt
        time.sleep(0.01)


def why(rpc: RpcClient, sender: str, to: str, data: str, gas: int) -> str:
    """The revert reason, from the same call simulated on the state the reverted transaction left unchanged."""
    try:
        rpc.call("eth_call", [{"from": sender, "to": to, "data": data, "gas": hex(gas)}, "latest"])
    except RpcAnswerError as exc:
        return f"reverted: {exc.message} {exc.data or ''}".strip()
    return "reverted"



def word(rpc: RpcClient, to: str, signature: str, args: list[Any] | None = None, block: int | str = "latest") -> Any:
    """The first value a view returns, or None."""
    values = read(rpc, to, signature, block, args)
    return values[0] if values else None


def call_data(signature: str, args: list[Any]) -> str:
    return encode_call(signature, args)
