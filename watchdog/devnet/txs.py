"""Sending transactions from the named dev accounts with web3.py (deployment and test paths, not hot paths)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.middleware import SignAndSendRawMiddlewareBuilder

from watchdog.devnet.accounts import DevAccount
from watchdog.devnet.artifacts import Artifact
from watchdog.errors import RpcError


def connect(rpc_url: str, signers: Iterable[DevAccount]) -> Web3:
    """A Web3 on `rpc_url` that signs locally for `signers` (so any node works, not only anvil)."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build([s.key for s in signers]), name="signing", layer=0)
    return w3


def send(w3: Web3, call: Any, sender: DevAccount, **tx: Any) -> Any:
    """Send a contract function call from `sender`, wait for it, and raise RpcError if it reverted."""
    try:
        tx_hash = call.transact({"from": sender.address, **tx})
    except ContractLogicError as exc:  # the node's gas estimate already hit the revert
        raise RpcError(f"transaction from {sender.name} would revert: {exc}") from exc
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    if receipt["status"] != 1:
        raise RpcError(f"transaction {tx_hash.to_0x_hex()} from {sender.name} reverted")
    return receipt


def deploy(w3: Web3, sender: DevAccount, artifact: Artifact, *args: Any) -> Contract:
    """Deploy `artifact` with constructor `args` from `sender`; the deployed contract bound to its ABI."""
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send(w3, factory.constructor(*args), sender)
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def revert_data(call: Any, sender: DevAccount) -> str | None:
    """Simulate `call` from `sender`: None when it would succeed, else the revert data (0x-hex, may be "0x")."""
    try:
        call.call({"from": sender.address})
    except ContractLogicError as exc:
        data = exc.data
        return data if isinstance(data, str) else "0x"
    return None


