"""Bridge messages as the contracts define them (BridgeMessage.sol): fields, id, and the relayer's signature."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from watchdog.devnet.accounts import DevAccount

_FIELD_TYPES = ["uint256", "address", "uint256", "address", "uint64", "address", "address", "uint256"]


@dataclass(frozen=True)
class Message:
    """One token transfer between two bridge endpoints (the contracts' BridgeMessage.Message, field for field)."""

    origin_chain_id: int
    origin_contract: str
    destination_chain_id: int
    destination_contract: str
    nonce: int
    sender: str
    recipient: str
    amount: int

    @property
    def id(self) -> bytes:
        """keccak256(abi.encode(message)): what MessageSent and MessageDelivered carry and what a relayer signs."""
        return keccak(encode(_FIELD_TYPES, list(astuple(self))))

    @property
    def id_hex(self) -> str:
        return "0x" + self.id.hex()

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct argument of mint()/release()."""
        return astuple(self)

    def sign(self, signer: DevAccount) -> bytes:
        """The relayer's EIP-191 signature of the id (r ‖ s ‖ v), as the endpoints recover it."""
        signed = Account.sign_message(encode_defunct(primitive=self.id), private_key=signer.key)
        return bytes(signed.signature)
