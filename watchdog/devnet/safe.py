"""A real Safe v1.4.1 on the devnet: deployment through the proxy factory, SafeTx hashing (EIP-712) and
execution with owner signatures. Bytecode comes from safe-eth-py's bundled artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account import Account
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from watchdog.devnet import artifacts
from watchdog.devnet.accounts import DevAccount
from watchdog.devnet.txs import deploy, send
from watchdog.respond.safe import ZERO_ADDRESS, hexbytes, safe_tx_hash


@dataclass(frozen=True)
class SafeTx:
    """A Safe transaction with no gas refund (what governance actions on the devnet use)."""

    safe: str
    chain_id: int
    to: str
    data: bytes
    nonce: int
    value: int = 0
    operation: int = 0  # 0 call, 1 delegatecall

    def hash(self) -> bytes:
        """The safeTxHash that owners sign (EIP-712 with the Safe >= 1.3 domain: chainId + verifyingContract)."""
        return hexbytes(safe_tx_hash(self.chain_id, self.safe, self.to, self.value, "0x" + self.data.hex(), self.operation,
                                     0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, self.nonce))

    def signatures(self, signers: Sequence[DevAccount]) -> bytes:
        """Concatenated 65-byte r|s|v ECDSA signatures, sorted by owner address as the Safe requires."""
        digest = self.hash()
        ordered = sorted(signers, key=lambda s: int(s.address, 16))
        blob = b""
        for signer in ordered:
            signed = Account.unsafe_sign_hash(digest, signer.key)
            blob += signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])
        return blob


def deploy_safe(w3: Web3, deployer: DevAccount, owners: Sequence[str], threshold: int, salt: int = 0) -> tuple[Contract, dict[str, str]]:
    """Deploy the Safe singleton, proxy factory and fallback handler, then a Safe proxy with `owners`.

    Returns the Safe (proxy) contract and the addresses of the supporting contracts.
    """
    singleton = deploy(w3, deployer, artifacts.safe_eth("Safe_V1_4_1"))
    factory = deploy(w3, deployer, artifacts.safe_eth("ProxyFactory_V1_4_1"))
    handler = deploy(w3, deployer, artifacts.safe_eth("CompatibilityFallbackHandler_V1_4_1"))
    setup = singleton.encode_abi("setup", [list(owners), threshold, ZERO_ADDRESS, b"", handler.address, ZERO_ADDRESS, 0, ZERO_ADDRESS])
    receipt = send(w3, factory.functions.createProxyWithNonce(singleton.address, setup, salt), deployer)
    proxy = factory.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)[0]["args"]["proxy"]
    safe = w3.eth.contract(address=to_checksum_address(proxy), abi=singleton.abi)
    support = {"SafeSingleton": singleton.address, "SafeProxyFactory": factory.address, "SafeFallbackHandler": handler.address}
    return safe, support


def exec_safe_tx(w3: Web3, safe: Contract, to: str, data: bytes, signers: Sequence[DevAccount], sender: DevAccount | None = None) -> dict:
    """Sign a call from the Safe with `signers` and execute it (sent by `sender`, default the first signer).

    Returns the receipt. With safeTxGas and gasPrice 0 a failing inner call reverts the whole execTransaction
    (GS013), so a mined receipt means the call succeeded.
    """
    tx = SafeTx(safe.address, w3.eth.chain_id, Web3.to_checksum_address(to), bytes(data), safe.functions.nonce().call())
    sigs = tx.signatures(signers)
    sender = sender or signers[0]
    call = safe.functions.execTransaction(tx.to, 0, tx.data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, sigs)
    return send(w3, call, sender)
