"""A local anvil forked from a node at one block, and what a stress run does on it: snapshots to come back to, calls
and impersonated transactions, time that passes, token balances dealt, code and storage written."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from watchdog.chain.abi import decode_result, encode_call
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.devnet import Anvil
from watchdog.errors import RpcError, WatchdogError
from watchdog.recovery.chain import Sent, send_as

BALANCE_SLOTS = 64  # storage slots tried for an ERC-20's balance mapping
UINT = 2**256


def actor(label: str) -> str:
    """A fixed address nobody holds a key to, for the fork's own actors (the mover of prices, the liquidator)."""
    return "0x" + keccak(text=f"watchdog.stress.{label}")[-20:].hex()


class Fork:
    """`with Fork(url, block) as fork:` an anvil serving the chain of `url` as it was at `block`."""

    def __init__(self, rpc_url: str, block: int, chain_id: int) -> None:
        self.upstream, self.block, self.chain_id = rpc_url, block, chain_id
        self.node = Anvil(chain_id=chain_id, extra_args=("--fork-url", rpc_url, "--fork-block-number", str(block)))
        self.rpc: RpcClient | None = None
        self._decimals: dict[str, int] = {}

    def __enter__(self) -> "Fork":
        self.node.start()
        self.rpc = RpcClient(self.node.url, retries=1, timeout=60.0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.rpc is not None:
            self.rpc.close()
        self.node.__exit__(*exc)

    @property
    def client(self) -> RpcClient:
        assert self.rpc is not None, "the fork is not started"
        return self.rpc

    # -- state -----------------------------------------------------------------------------------------
    def snapshot(self) -> str:
        return self.client.call("evm_snapshot")

    def revert(self, snapshot: str) -> None:
        if not self.client.call("evm_revert", [snapshot]):
            raise RpcError(f"the fork refused to revert to snapshot {snapshot}")

    def head(self) -> int:
        return int(self.client.call("eth_blockNumber"), 16)

    def now(self) -> int:
        return int(self.client.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def warp(self, seconds: int) -> None:
        """Let `seconds` of chain time pass (one block is mined at the new time)."""
        if seconds > 0:
            self.client.call("evm_increaseTime", [hex(seconds)])
            self.client.call("evm_mine")

    # -- reads and writes ------------------------------------------------------------------------------
    def read(self, to: str, signature: str, args: tuple[Any, ...] | list[Any] = (), sender: str | None = None) -> tuple[Any, ...] | None:
        """A view's values, None when it reverts or answers nothing."""
        raw = self.raw_call(to, encode_call(signature, list(args)), sender)
        if isinstance(raw, RpcAnswerError) or not raw or raw == "0x":
            return None
        try:
            return decode_result(signature, raw)
        except Exception:  # an answer of another shape than the ABI says
            return None

    def raw_call(self, to: str, data: str, sender: str | None = None) -> str | RpcAnswerError:
        call: dict[str, Any] = {"to": to, "data": data}
        if sender:
            call["from"] = sender
        try:
            return self.client.call("eth_call", [call, "latest"])
        except RpcAnswerError as exc:
            return exc

    def raw_calls(self, calls: list[tuple[str, str, str | None]]) -> list[str | RpcAnswerError]:
        """(to, data, sender) calls in one request; a revert comes back as the error in its place."""
        batch = [("eth_call", [{"to": to, "data": data, **({"from": sender} if sender else {})}, "latest"])
                 for to, data, sender in calls]
        out: list[str | RpcAnswerError] = []
        for start in range(0, len(batch), 500):
            out += self.client.batch(batch[start:start + 500], errors_as_values=True)
        return out

    def send(self, sender: str, to: str, signature: str, args: list[Any] | tuple[Any, ...] = ()) -> Sent:
        """A transaction from `sender` (impersonated, funded for gas), mined at once."""
        return self.send_data(sender, to, encode_call(signature, list(args)))

    def send_data(self, sender: str, to: str, data: str) -> Sent:
        return send_as(self.client, sender, to, data)

    def decimals(self, token: str) -> int:
        if token not in self._decimals:
            out = self.read(token, "decimals()(uint8)")
            self._decimals[token] = int(out[0]) if out else 18
        return self._decimals[token]

    def balance(self, token: str, account: str) -> int:
        out = self.read(token, "balanceOf(address)(uint256)", (account,))
        return int(out[0]) if out else 0

    def set_storage(self, address: str, slot: int, value: int) -> None:
        self.client.call("anvil_setStorageAt", [address, "0x" + (slot % UINT).to_bytes(32, "big").hex(),
                                                 "0x" + (value % UINT).to_bytes(32, "big").hex()])

    def storage(self, address: str, slot: int) -> int:
        return int(self.client.call("eth_getStorageAt", [address, hex(slot % UINT), "latest"]), 16)

    def set_code(self, address: str, code: str) -> None:
        self.client.call("anvil_setCode", [address, code])

    def deal(self, token: str, account: str, amount: int) -> None:
        """Give `account` exactly `amount` of an ERC-20, by writing the balance mapping's slot (found by trying the
        mapping at each of the first storage slots, Solidity's and Vyper's key order)."""
        if self.balance(token, account) == amount:
            return
        owner = bytes.fromhex(account[2:].rjust(64, "0"))
        for index in range(BALANCE_SLOTS):
            position = index.to_bytes(32, "big")
            for key in (owner + position, position + owner):
                slot = int.from_bytes(keccak(key), "big")
                before = self.storage(token, slot)
                self.set_storage(token, slot, amount)
                if self.balance(token, account) == amount:
                    return
                self.set_storage(token, slot, before)
        raise WatchdogError(f"cannot give tokens of {token} on the fork: its balances are not a plain mapping in the "
                            f"first {BALANCE_SLOTS} storage slots")

    def approve(self, owner: str, token: str, spender: str) -> None:
        sent = self.send(owner, token, "approve(address,uint256)", (spender, UINT - 1))
        if not sent.ok:
            raise WatchdogError(f"approving {spender} for {token} on the fork failed: {sent.error}")
