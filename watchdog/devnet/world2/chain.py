"""The deployed Harbor world as Python sees it: contracts by name, named accounts, and transactions signed
locally and sent with fixed gas (a transaction that reverts is mined as reverted, not refused at estimation)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract

from watchdog.devnet import artifacts
from watchdog.devnet.accounts import DevAccount
from watchdog.devnet.artifacts import Artifact
from watchdog.devnet.txs import connect
from watchdog.devnet.world2.accounts import AccountBook
from watchdog.errors import RpcError
from watchdog.manifest import Manifest, load_manifest

GAS = 3_000_000  # every scenario transaction fits; the drills send attack steps with this fixed gas too
DEPLOY_GAS = 8_000_000
MAX_FEE = 50 * 10**9
PRIORITY_FEE = 10**9


def create_address(sender: str, nonce: int) -> str:
    """The address a CREATE from `sender` at `nonce` deploys to."""
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def _hex(value: Any) -> Any:
    if isinstance(value, int):
        return hex(value)
    return "0x" + value.hex() if isinstance(value, bytes) else value


@dataclass
class HarborWorld:
    """Contract addresses and ABIs by name (the manifest's names), the account book, and ways to act on chain."""

    rpc_url: str
    manifest_path: Path
    addresses: dict[str, str]
    abis: dict[str, list[dict[str, Any]]]
    accounts: AccountBook = field(default_factory=AccountBook)
    _fast: dict[str, int] | None = field(default=None, init=False, repr=False)  # nonces while in fast()

    @cached_property
    def w3(self) -> Web3:
        return connect(self.rpc_url, self.accounts.all())

    @cached_property
    def chain_id(self) -> int:
        return self.w3.eth.chain_id

    @property
    def manifest(self) -> Manifest:
        return load_manifest(self.manifest_path)

    # --- contracts ---

    def contract(self, name: str) -> Contract:
        """The manifest contract `name`, e.g. "CreditPool" or "hUSD"."""
        return self.w3.eth.contract(address=self.addresses[name], abi=self.abis[name])

    def at(self, address: str, artifact: str) -> Contract:
        """A contract of the project's build (e.g. an attacker or helper contract) at `address`."""
        return self.w3.eth.contract(address=to_checksum_address(address), abi=artifacts.project(artifact).abi)

    def constructor(self, artifact: str | Artifact, *args: Any) -> Any:
        built = artifacts.project(artifact) if isinstance(artifact, str) else artifact
        return self.w3.eth.contract(abi=built.abi, bytecode=built.bytecode).constructor(*args)

    # --- transactions ---

    def account(self, who: str | DevAccount) -> DevAccount:
        return self.accounts[who] if isinstance(who, str) else who

    def next_nonce(self, who: str | DevAccount) -> int:
        address = self.account(who).address
        if self._fast is not None and address in self._fast:
            return self._fast[address]
        return int(self.rpc("eth_getTransactionCount", [address, "pending"]), 16)

    def submit(self, call: Any, who: str | DevAccount, *, value: int = 0, gas: int = GAS, label: str = "") -> str:
        """Sign `call` (a contract function or constructor) as `who` and send it; the transaction hash.

        Inside `fast()` the node signs instead (anvil's impersonation), and the call returns once the transaction
        is mined, raising RpcError if it reverted: deployment sends hundreds of transactions, and signing in pure
        Python would cost more than everything else."""
        acct = self.account(who)
        nonce = self.next_nonce(acct)
        tx = call.build_transaction({
            "from": acct.address, "nonce": nonce, "gas": gas, "value": value, "chainId": self.chain_id,
            "maxFeePerGas": MAX_FEE, "maxPriorityFeePerGas": PRIORITY_FEE,
        })
        if self._fast is None:
            signed = Account.sign_transaction(tx, acct.key).raw_transaction
            return self.rpc("eth_sendRawTransaction", ["0x" + signed.hex()])
        self._fast[acct.address] = nonce + 1
        tx_hash = self.rpc("eth_sendTransaction", [{key: _hex(value) for key, value in tx.items() if value != b""}])
        if int(self.receipt(tx_hash)["status"], 16) != 1:
            raise RpcError(f"{label or acct.name + ' transaction'} reverted ({tx_hash})")
        return tx_hash

    def send(self, call: Any, who: str | DevAccount, *, value: int = 0, gas: int = GAS, check: bool = True) -> dict[str, Any]:
        """Send and wait until mined; the raw receipt. With `check`, a reverted transaction raises RpcError."""
        tx_hash = self.submit(call, who, value=value, gas=gas)
        receipt = self.receipt(tx_hash)
        if check and int(receipt["status"], 16) != 1:
            raise RpcError(f"transaction {tx_hash} from {self.account(who).name} reverted")
        return receipt

    def deploy(self, who: str | DevAccount, artifact: str | Artifact, *args: Any) -> Contract:
        """Deploy a contract (of the project's build, or an npm artifact); bound to its ABI at its address."""
        acct = self.account(who)
        built = artifacts.project(artifact) if isinstance(artifact, str) else artifact
        address = create_address(acct.address, self.next_nonce(acct))
        self.send(self.constructor(built, *args), acct, gas=DEPLOY_GAS)
        return self.w3.eth.contract(address=address, abi=built.abi)

    @contextmanager
    def fast(self) -> Iterator[None]:
        """Transactions signed by the node (anvil's impersonation), each mined before the next is sent."""
        self._fast = {}
        self.rpc("anvil_autoImpersonateAccount", [True])
        try:
            yield
        finally:
            self._fast = None
            self.rpc("anvil_autoImpersonateAccount", [False])

    def receipt(self, tx_hash: str, timeout: float = 60.0) -> dict[str, Any]:
        """The raw receipt of `tx_hash`, once mined."""
        deadline = time.monotonic() + timeout
        while (receipt := self.rpc("eth_getTransactionReceipt", [tx_hash])) is None:
            if time.monotonic() > deadline:
                raise RpcError(f"transaction {tx_hash} was not mined within {timeout:.0f}s")
            time.sleep(0.001)
        return receipt

    # --- chain ---

    @cached_property
    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=60.0)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        """One raw JSON-RPC call (no web3 formatting); RpcError on an error answer."""
        answer = self._http.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).json()
        if "error" in answer:
            raise RpcError(f"{method}: {answer['error'].get('message', answer['error'])}")
        return answer["result"]

    def warp(self, seconds: int) -> None:
        """Let `seconds` of chain time pass, carried by one new block."""
        self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine")

    def now(self) -> int:
        """The chain's time: its last block's, or the wall clock when that is later (a world loaded from an old
        cache: its next block takes the wall-clock time, and a deadline set from the last block would be past)."""
        return max(self.w3.eth.get_block("latest")["timestamp"], int(time.time()))

    def block_number(self) -> int:
        return self.w3.eth.block_number

    def usd_of(self, holder: str) -> int:
        """hUSD (the quote token, 6 decimals) held by an address or a named account."""
        address = self.accounts[holder].address if holder in self.accounts.by_name else holder
        return self.contract("hUSD").functions.balanceOf(to_checksum_address(address)).call()


def load_harbor(rpc_url: str, manifest_path: Path | str) -> HarborWorld:
    """Bind to a Harbor world deployed earlier, from its manifest."""
    manifest = load_manifest(manifest_path)
    addresses = {entry.name: to_checksum_address(entry.address) for entry in manifest.contracts}
    abis = {entry.name: manifest.abi_of(entry) for entry in manifest.contracts}
    return HarborWorld(rpc_url, Path(manifest_path).resolve(), addresses, abis)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
