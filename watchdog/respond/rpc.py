"""The responder's chain calls: typed helpers and revert decoding over the shared JSON-RPC client."""

from __future__ import annotations

from typing import Any

from watchdog.chain.abi import revert_reason
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.errors import RpcError


class CallReverted(RpcError):
    """eth_call / eth_estimateGas reverted; `reason` is the decoded Error(string) when there is one."""

    def __init__(self, message: str, reason: str | None) -> None:
        super().__init__(message)
        self.reason = reason


class Rpc:
    """The responder's typed view of one chain, over the shared JSON-RPC client (endpoint failover,
    retries with backoff, endpoint URLs redacted in errors). Re-sending a signed transaction through
    another endpoint is safe: it is the same bytes."""

    def __init__(self, url: str | list[str] | RpcClient, timeout: float = 10.0) -> None:
        self.client = url if isinstance(url, RpcClient) else RpcClient(url, timeout=timeout)

    def call_raw(self, method: str, params: list[Any] | None = None) -> Any:
        try:
            return self.client.call(method, params)
        except RpcAnswerError as exc:
            if method in ("eth_call", "eth_estimateGas") and ("revert" in exc.message.lower() or exc.data):
                raise CallReverted(f"{method} reverted: {exc.message}", revert_reason(exc.data)) from None
            raise

    # --- typed helpers ---
    def block_number(self) -> int:
        return int(self.call_raw("eth_blockNumber"), 16)

    def chain_id(self) -> int:
        return int(self.call_raw("eth_chainId"), 16)

    def block(self, tag: str | int = "latest") -> dict[str, Any]:
        number = hex(tag) if isinstance(tag, int) else tag
        return self.call_raw("eth_getBlockByNumber", [number, False])

    def base_fee(self) -> int:
        return int(self.block("latest").get("baseFeePerGas") or "0x0", 16)

    def nonce(self, address: str, tag: str = "pending") -> int:
        return int(self.call_raw("eth_getTransactionCount", [address, tag]), 16)

    def eth_call(self, to: str, data: str, sender: str | None = None, block: str = "latest") -> str:
        call: dict[str, Any] = {"to": to, "data": data}
        if sender:
            call["from"] = sender
        return self.call_raw("eth_call", [call, block])

    def estimate_gas(self, to: str, data: str, sender: str) -> int:
        return int(self.call_raw("eth_estimateGas", [{"from": sender, "to": to, "data": data}]), 16)

    def send_raw(self, raw: str) -> str:
        return self.call_raw("eth_sendRawTransaction", [raw])

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        return self.call_raw("eth_getTransactionReceipt", [tx_hash])

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        return self.call_raw("eth_getTransactionByHash", [tx_hash])

    def close(self) -> None:
        self.client.close()
