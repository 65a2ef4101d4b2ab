"""Safe transactions among an attack's: who signed them (recovered from the signatures over the safeTxHash the
Safe logged), and how to send the same SafeTx again on a fork with the same signers' approval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from watchdog.chain.abi import decode_input, encode_call, topic
from watchdog.chain.rpc import RpcClient
from watchdog.recovery.chain import Sent, send_as, word
from watchdog.respond.safe import EXEC_TRANSACTION, GET_TRANSACTION_HASH, hexbytes, recover_owner

EXEC_TYPES = "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)"
EXECUTION_SUCCESS = topic("ExecutionSuccess(bytes32,uint256)")
EXECUTION_FAILURE = topic("ExecutionFailure(bytes32,uint256)")


@dataclass
class SafeExec:
    safe: str
    args: tuple[Any, ...]  # execTransaction's arguments
    signers: list[str]


def safe_exec(tx: dict[str, Any], receipt: dict[str, Any]) -> SafeExec | None:
    """The Safe call of a transaction sent straight to a Safe, with its signers; None for anything else."""
    args = decode_input(EXEC_TYPES, tx.get("input") or "")
    if args is None:
        return None
    safe = (tx.get("to") or "").lower()
    logged = next((e for e in receipt.get("logs") or [] if e["address"].lower() == safe and e["topics"]
                   and e["topics"][0] in (EXECUTION_SUCCESS, EXECUTION_FAILURE)), None)
    if logged is None:
        return None
    digest = "0x" + (logged["data"][2:66] if len(logged["topics"]) == 1 else logged["topics"][1][2:])
    return SafeExec(safe, args, signers_of(digest, args[9]))


def signers_of(digest: str, signatures: str) -> list[str]:
    raw = hexbytes(signatures)
    out = []
    for i in range(0, len(raw) - len(raw) % 65, 65):
        r, v = raw[i:i + 32], raw[i + 64]
        if v in (27, 28):
            out.append(recover_owner(digest, "0x" + raw[i:i + 65].hex()))
        elif v > 30:  # eth_sign: the owner signed the prefixed hash
            prefixed = keccak(b"\x19Ethereum Signed Message:\n32" + hexbytes(digest)).hex()
            out.append(recover_owner("0x" + prefixed, "0x" + (raw[i:i + 64] + bytes([v - 4])).hex()))
        else:  # approved hash (1) or contract signature (0): the owner is the address in r
            out.append("0x" + r[-20:].hex())
    return out


def resend(rpc: RpcClient, sender: str, call: SafeExec) -> tuple[Sent, str]:
    """The same SafeTx at the Safe's current nonce, approved on-chain by the same signers (`approveHash`, which
    only an owner may call), then executed by the original sender. A note says what stopped it, if anything."""
    to, value, data, operation, safe_gas, base_gas, gas_price, gas_token, refund, _ = call.args
    nonce = word(rpc, call.safe, "nonce()(uint256)")
    digest = word(rpc, call.safe, GET_TRANSACTION_HASH + "(bytes32)",
                  [to, value, hexbytes(data), operation, safe_gas, base_gas, gas_price, gas_token, refund, nonce])
    if digest is None:
        return Sent(None, False, "not a Safe", []), "the Safe did not compute a hash"
    for signer in call.signers:
        approved = send_as(rpc, signer, call.safe, encode_call("approveHash(bytes32)", [hexbytes(digest)]))
        if not approved.ok:
            return approved, f"{signer} can no longer approve Safe transactions (not an owner)"
    signatures = b"".join(bytes.fromhex(s[2:].rjust(64, "0")) + b"\x00" * 32 + b"\x01"
                          for s in sorted(call.signers, key=lambda a: int(a, 16)))
    data_out = encode_call(EXEC_TRANSACTION, [to, value, hexbytes(data), operation, safe_gas, base_gas, gas_price,
                                              gas_token, refund, signatures])
    sent = send_as(rpc, sender, call.safe, data_out)
    return sent, "" if sent.ok else "the Safe refused or the inner call reverted"
