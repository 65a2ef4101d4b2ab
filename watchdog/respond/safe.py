"""The Safe path: a SafeTx that pauses, its safeTxHash (EIP-712), owners' signatures, execution.

Safe >= 1.3.0 signs `SafeTx(...)` under the domain `EIP712Domain(uint256 chainId,address
verifyingContract)`. Signatures are 65-byte r‖s‖v blocks (v 27/28, plain ECDSA over the hash),
concatenated in ascending owner order. One SafeTx per Safe nonce.
"""

from __future__ import annotations

import logging
from typing import Any

from eth_abi import decode, encode
from eth_keys import keys as eth_keys
from eth_utils import keccak, to_checksum_address
from sqlalchemy.exc import IntegrityError

from watchdog.errors import WatchdogError
from watchdog.keys import Signer
from watchdog.respond.clock import ChainClock
from watchdog.respond.executor import Executor, Outcome
from watchdog.respond.incidents import IncidentBook
from watchdog.chain.abi import selector
from watchdog.respond.plan import TxPlan
from watchdog.respond.rpc import CallReverted, Rpc
from watchdog.respond.service import SafeService
from watchdog.store import Store, proposals, utcnow
from watchdog.store.responder import ActionStatus, Proposal, ProposalSignature, ProposalStatus

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x" + "00" * 20
DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
SAFE_TX_TYPEHASH = keccak(text="SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,"
                               "uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)")
EXEC_TRANSACTION = "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)"
GET_TRANSACTION_HASH = "getTransactionHash(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,uint256)"


def safe_tx_hash(chain_id: int, safe: str, to: str, value: int, data: str, operation: int, safe_tx_gas: int,
                 base_gas: int, gas_price: int, gas_token: str, refund_receiver: str, nonce: int) -> str:
    domain = keccak(encode(["bytes32", "uint256", "address"], [DOMAIN_TYPEHASH, chain_id, safe]))
    struct = keccak(encode(
        ["bytes32", "address", "uint256", "bytes32", "uint8", "uint256", "uint256", "uint256", "address", "address", "uint256"],
        [SAFE_TX_TYPEHASH, to, value, keccak(hexbytes(data)), operation, safe_tx_gas, base_gas, gas_price,
         gas_token, refund_receiver, nonce]))
    return "0x" + keccak(b"\x19\x01" + domain + struct).hex()


def proposal_hash(p: Proposal) -> str:
    return safe_tx_hash(p.chain_id, p.safe, p.to, p.value, p.data, p.operation, p.safe_tx_gas, p.base_gas,
                        p.gas_price, p.gas_token, p.refund_receiver, p.nonce)


def recover_owner(digest: str, signature: str) -> str:
    """The owner behind an r‖s‖v (v 27/28) signature over `digest`."""
    raw = hexbytes(signature)
    sig = eth_keys.Signature(raw[:64] + bytes([raw[64] - 27]))
    return sig.recover_public_key_from_msg_hash(hexbytes(digest)).to_checksum_address().lower()


def hexbytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


class SafeProposals:
    """Proposals to one Safe: create (with evidence), sign, execute."""

    def __init__(self, store: Store, rpc: Rpc | None, network: str, chain_id: int, safe: str,
                 service: SafeService | None = None) -> None:
        self.store = store
        self.rpc = rpc
        self.network = network
        self.chain_id = chain_id
        self.safe = safe.lower()
        self.service = service

    # ------------------------------------------------------------------ chain reads
    def _read(self, signature: str, types: list[str], args: list[Any] | None = None, out: str = "uint256") -> Any:
        assert self.rpc is not None
        data = selector(signature) + (encode(types, args).hex() if types else "")
        return decode([out], hexbytes(self.rpc.eth_call(self.safe, data)))[0]

    def nonce(self) -> int:
        return self._read("nonce()", [])

    def threshold(self) -> int:
        return self._read("getThreshold()", [])

    def owners(self) -> list[str]:
        return [o.lower() for o in self._read("getOwners()", [], out="address[]")]

    # ------------------------------------------------------------------ propose
    def propose(self, plan: TxPlan, *, evidence: dict[str, Any], description: str,
                incident_id: int | None = None) -> tuple[Proposal, bool]:
        """Store the SafeTx for `plan` at the next free Safe nonce; an open proposal for the same target
        and scope is returned instead (one proposal per pause, one SafeTx per nonce)."""
        for _ in range(5):
            existing = self._open_for(plan)
            if existing is not None:
                return existing, False
            onchain = self.nonce()
            with self.store.session() as s:
                taken = proposals.taken_nonces(s, self.chain_id, self.safe, onchain)
            nonce = max([onchain - 1, *taken]) + 1
            simulation = self._simulate(plan)
            proposal = Proposal(network=self.network, chain_id=self.chain_id, safe=self.safe, nonce=nonce,
                                to=plan.to, data=plan.data, safe_tx_hash="", threshold=self.threshold(),
                                owners=self.owners(), target=plan.target, scope=plan.scope, contract=plan.contract,
                                description=description, incident_id=incident_id,
                                evidence={**evidence, "call": plan.decoded, "simulation": simulation,
                                          "checklist": checklist(self, plan)})
            proposal.safe_tx_hash = proposal_hash(proposal)
            onchain_hash = self._onchain_hash(proposal)
            if onchain_hash is not None and onchain_hash != proposal.safe_tx_hash:
                raise WatchdogError(f"safeTxHash mismatch with the Safe at {self.safe}: is it a Safe >= 1.3.0?")
            try:
                with self.store.session() as s:
                    s.add(proposal)
                    s.flush()
                    s.refresh(proposal)
            except IntegrityError:
                continue  # another process took this nonce: look again
            self.store.audit("responder", "safe_proposed", proposal.safe_tx_hash, proposal_id=proposal.id,
                             safe=self.safe, nonce=nonce, target=plan.target)
            return proposal, True
        raise WatchdogError(f"could not reserve a Safe nonce for {self.safe}: too many concurrent proposals")

    def _open_for(self, plan: TxPlan) -> Proposal | None:
        with self.store.session() as s:
            rows = proposals.open_proposals(s, self.chain_id, self.safe, plan.target, plan.scope)
        onchain = self.nonce()
        return next((p for p in rows if p.nonce >= onchain), None)

    def _simulate(self, plan: TxPlan) -> dict[str, Any]:
        """The inner call as the Safe would make it, at the latest state."""
        assert self.rpc is not None
        try:
            result = self.rpc.eth_call(plan.to, plan.data, self.safe)
            return {"ok": True, "result": result, "block": self.rpc.block_number()}
        except CallReverted as exc:
            return {"ok": False, "revert": exc.reason or str(exc), "block": self.rpc.block_number()}

    def _onchain_hash(self, p: Proposal) -> str | None:
        if self.rpc is None:
            return None
        value = self._read(GET_TRANSACTION_HASH,
                           ["address", "uint256", "bytes", "uint8", "uint256", "uint256", "uint256", "address", "address", "uint256"],
                           [p.to, p.value, hexbytes(p.data), p.operation, p.safe_tx_gas, p.base_gas, p.gas_price,
                            p.gas_token, p.refund_receiver, p.nonce], out="bytes32")
        return "0x" + value.hex()

    # ------------------------------------------------------------------ sign
    def sign(self, proposal_id: int, signer: Signer) -> tuple[Proposal, bool, str]:
        """Add `signer`'s signature. Returns (proposal, added, note); signing twice or after execution
        changes nothing."""
        proposal = get_proposal(self.store, proposal_id)
        if proposal.status != ProposalStatus.PROPOSED:
            return proposal, False, f"proposal {proposal_id} is {proposal.status}: nothing to sign"
        digest = proposal_hash(proposal)
        if digest != proposal.safe_tx_hash:
            raise WatchdogError(f"proposal {proposal_id}: stored safeTxHash does not match its fields: do not sign it")
        onchain = self._onchain_hash(proposal)
        if onchain is not None and onchain != digest:
            raise WatchdogError(f"proposal {proposal_id}: the Safe computes {onchain}, not {digest}: do not sign it")
        owners = self.owners() if self.rpc is not None else proposal.owners
        if signer.address not in owners:
            raise WatchdogError(f"{signer.address} is not an owner of Safe {self.safe}: sign with an owner's keystore")
        if self.rpc is not None and self.nonce() > proposal.nonce:
            return proposal, False, f"Safe nonce {proposal.nonce} is already used: nothing to sign"
        signature = "0x" + signer.sign_hash(hexbytes(digest)).hex()
        try:
            with self.store.session() as s:
                s.add(ProposalSignature(proposal_id=proposal_id, owner=signer.address, signature=signature))
        except IntegrityError:
            return proposal, False, f"{signer.address} has already signed proposal {proposal_id}"
        self.store.audit(signer.address, "safe_signed", digest, proposal_id=proposal_id)
        note = f"signed by {signer.address} ({len(signatures(self.store, proposal_id))}/{proposal.threshold})"
        if self.service is not None:
            note += "; " + self._post(proposal, signer.address, signature)
        return proposal, True, note

    def _post(self, proposal: Proposal, owner: str, signature: str) -> str:
        assert self.service is not None
        first = len(signatures(self.store, proposal.id)) == 1  # type: ignore[arg-type]
        try:
            if first:
                self.service.propose(proposal, owner, signature)
                return "posted to the transaction service"
            self.service.confirm(proposal.safe_tx_hash, signature)
            return "confirmation posted to the transaction service"
        except WatchdogError as exc:
            log.warning("transaction service: %s", exc)
            return f"transaction service: {exc}"

    # ------------------------------------------------------------------ execute
    def execute(self, proposal_id: int, executor: Executor) -> tuple[Proposal, Outcome | None, str]:
        """Send execTransaction once the threshold is met; a second call changes nothing."""
        proposal = get_proposal(self.store, proposal_id)
        if proposal.status == ProposalStatus.EXECUTED:
            return proposal, None, f"proposal {proposal_id} was already executed in {proposal.exec_tx_hash}"
        sigs = signatures(self.store, proposal_id)
        threshold = self.threshold()
        if len(sigs) < threshold:
            raise WatchdogError(f"proposal {proposal_id} has {len(sigs)} of {threshold} signatures: "
                                f"more owners must run `watchdog proposals sign {proposal_id}`")
        blob = b"".join(hexbytes(sig.signature) for sig in sorted(sigs, key=lambda x: int(x.owner, 16)))
        args = [proposal.to, proposal.value, hexbytes(proposal.data), proposal.operation, proposal.safe_tx_gas,
                proposal.base_gas, proposal.gas_price, proposal.gas_token, proposal.refund_receiver, blob]
        data = selector(EXEC_TRANSACTION) + encode(
            ["address", "uint256", "bytes", "uint8", "uint256", "uint256", "uint256", "address", "address", "bytes"], args).hex()
        plan = TxPlan("safe_exec", self.safe, str(proposal.nonce), self.safe, data,
                      {"to": self.safe, "data": selector("nonce()"), "gt": proposal.nonce}, proposal.contract)
        outcome = executor.submit(plan, incident_id=proposal.incident_id, trigger={"proposal_id": proposal_id}, wait=True)
        if outcome.status == ActionStatus.MINED:
            with self.store.session() as s:
                row = s.get(Proposal, proposal_id)
                assert row is not None
                row.status, row.exec_tx_hash, row.executed_at = ProposalStatus.EXECUTED, outcome.tx_hash, utcnow()
                proposal = row
            chain = ChainClock(self.rpc).at_tx(outcome.tx_hash)
            IncidentBook(self.store).contain(proposal.incident_id, f"{proposal.contract} paused by the Safe in tx {outcome.tx_hash}",
                                             proposal_id=proposal_id, tx_hash=outcome.tx_hash, **chain)
            return proposal, outcome, f"executed in {outcome.tx_hash}"
        if outcome.status == ActionStatus.ALREADY_DONE:
            with self.store.session() as s:
                row = s.get(Proposal, proposal_id)
                assert row is not None
                row.status = proposal.status = ProposalStatus.STALE  # another SafeTx took this nonce: propose again
            return proposal, outcome, f"Safe nonce {proposal.nonce} was already used by another transaction: nothing executed"
        raise WatchdogError(f"execution of proposal {proposal_id} {outcome.status}: {outcome.error or 'see `proposals show`'}")


def checklist(proposals: SafeProposals, plan: TxPlan) -> list[str]:
    """The signers' emergency-pause checklist, filled in."""
    return [
        f"Safe {to_checksum_address(proposals.safe)} on chain id {proposals.chain_id} ({proposals.network})",
        f"target {plan.contract} at {to_checksum_address(plan.target)}",
        f"function {plan.decoded.get('function', '?')} with no other call (operation CALL, value 0, no refund)",
        "compare the safeTxHash shown on your signing device with the one shown here",
    ]


def get_proposal(store: Store, proposal_id: int) -> Proposal:
    with store.session() as s:
        proposal = s.get(Proposal, proposal_id)
    if proposal is None:
        raise WatchdogError(f"no proposal {proposal_id}: see `watchdog proposals list`")
    return proposal


def signatures(store: Store, proposal_id: int | None) -> list[ProposalSignature]:
    with store.session() as s:
        return proposals.signatures(s, proposal_id)
