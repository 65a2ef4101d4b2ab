"""Client for a Safe Transaction Service: propose a multisig transaction (v2) and add confirmations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from eth_utils import to_checksum_address

from watchdog.errors import WatchdogError

if TYPE_CHECKING:
    from watchdog.store.responder import Proposal


class SafeService:
    def __init__(self, url: str, origin: str = "watchdog", timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.origin = origin
        self.timeout = timeout

    def propose(self, proposal: "Proposal", sender: str, signature: str) -> None:
        body = {
            "to": to_checksum_address(proposal.to),
            "value": str(proposal.value),
            "data": proposal.data,
            "operation": proposal.operation,
            "gasToken": to_checksum_address(proposal.gas_token),
            "safeTxGas": str(proposal.safe_tx_gas),
            "baseGas": str(proposal.base_gas),
            "gasPrice": str(proposal.gas_price),
            "refundReceiver": to_checksum_address(proposal.refund_receiver),
            "nonce": str(proposal.nonce),
            "contractTransactionHash": proposal.safe_tx_hash,
            "sender": to_checksum_address(sender),
            "signature": signature,
            "origin": self.origin,
        }
        self._post(f"/api/v2/safes/{to_checksum_address(proposal.safe)}/multisig-transactions/", body)

    def confirm(self, safe_tx_hash: str, signature: str) -> None:
        self._post(f"/api/v1/multisig-transactions/{safe_tx_hash}/confirmations/", {"signature": signature})

    def _post(self, path: str, body: dict) -> None:
        try:
            response = httpx.post(self.url + path, json=body, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise WatchdogError(f"Safe Transaction Service at {self.url} unreachable: {exc.__class__.__name__}") from None
        if response.status_code >= 300:
            raise WatchdogError(f"Safe Transaction Service refused {path} ({response.status_code}): {response.text[:200]}")
