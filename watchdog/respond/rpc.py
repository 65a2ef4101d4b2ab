"""A small raw JSON-RPC client for the responder (httpx + json; thread-safe; no web3 formatting)."""

from __future__ import annotations

import itertools
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx
from eth_abi import decode

from watchdog.errors import RpcError


class CallReverted(RpcError):
    """eth_call / eth_estimateGas reverted; `reason` is the decoded Error(string) when there is one."""

    def __init__(self, message: str, reason: str | None) -> None:
        super().__init__(message)
        self.reason = reason


class Rpc:
    """One or several endpoints of one chain; a transport failure moves on to the next endpoint (a
    signed transaction is the same bytes wherever it is broadcast)."""

    def __init__(self, url: str | list[str], timeout: float = 10.0) -> None:
        self.urls = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise RpcError("no RPC endpoint given: set rpc_urls for the network")
        self.url = self.urls[0]
        self._client = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def call_raw(self, method: str, params: list[Any] | None = None) -> Any:
        with self._lock:
            request_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or []}
        answer: Any = None
        for url in list(self.urls):
            try:
                answer = self._client.post(url, json=body).json()
                break
            except (httpx.HTTPError, ValueError) as exc:
                problem = f"{method} on {_where(url)} failed: {exc.__class__.__name__}"
                with self._lock:
                    if len(self.urls) > 1 and url == self.urls[0]:  # prefer the next endpoint from now on
                        self.urls.append(self.urls.pop(0))
                        self.url = self.urls[0]
        else:
            raise RpcError(problem)
        error = answer.get("error") if isinstance(answer, dict) else {"message": "malformed answer"}
        if error:
            message = str(error.get("message", error))
            if method in ("eth_call", "eth_estimateGas") and ("revert" in message.lower() or error.get("data")):
                raise CallReverted(f"{method} reverted: {message}", revert_reason(error.get("data")))
            raise RpcError(f"{method}: {message}")
        return answer.get("result")

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
        self._client.close()


def _where(url: str) -> str:
    """Scheme and host of an endpoint: its path or query may carry an API key."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def revert_reason(data: Any) -> str | None:
    """Decode `Error(string)` revert data; other payloads are returned as hex (custom errors)."""
    if isinstance(data, dict):
        data = data.get("data")
    if not isinstance(data, str) or not data.startswith("0x") or len(data) < 10:
        return None
    if data[:10] == "0x08c379a0":
        try:
            return decode(["string"], bytes.fromhex(data[10:]))[0]
        except Exception:
            return data
    return data
