"""Proxies: the contract whose code a call really runs. EIP-1967 (implementation, admin and beacon slots),
EIP-1167 minimal proxies, and Safe proxies (the singleton a `masterCopy()` call names)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from watchdog.chain.abi import encode_call
from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcAnswerError
from watchdog.detect import bytecode
from watchdog.manifests.calls import decode_answer

MASTER_COPY = "masterCopy()(address)"
MASTER_COPY_SELECTOR = bytes.fromhex("a619486e")
BEACON_IMPLEMENTATION = "implementation()(address)"
DELEGATECALL = 0xF4


@dataclass(frozen=True, slots=True)
class Proxy:
    kind: str  # EIP-1967 | EIP-1167 | Safe
    implementation: str
    admin: str | None = None
    beacon: str | None = None

    def describe(self, label: Callable[[str], str] = str) -> str:
        """E.g. "EIP-1967 proxy to 0x…, admin 0x…", addresses shown by `label`."""
        parts = [f"{self.kind} proxy to {label(self.implementation)}"]
        if self.beacon:
            parts.append(f"through the beacon {label(self.beacon)}")
        if self.admin:
            parts.append(f"admin {label(self.admin)}")
        return ", ".join(parts)


def find_proxy(reader: BlockReader, address: str, code: str) -> Proxy | None:
    """The proxy behind `address` (whose runtime code is `code`), or None when it runs its own code."""
    facts = bytecode.analyse(code)
    if facts.minimal_proxy_target:
        return Proxy("EIP-1167", facts.minimal_proxy_target.lower())
    if facts.eip1967:
        implementation = _slot_address(reader, address, "implementation")
        beacon = _slot_address(reader, address, "beacon")
        if implementation is None and beacon is not None:
            implementation = _call_address(reader, beacon, BEACON_IMPLEMENTATION)
        if implementation is not None:
            return Proxy("EIP-1967", implementation, _slot_address(reader, address, "admin"), beacon)
    raw = bytes.fromhex(code.removeprefix("0x"))
    if MASTER_COPY_SELECTOR in raw and DELEGATECALL in raw and len(raw) < 1024:
        singleton = _call_address(reader, address, MASTER_COPY)
        if singleton is not None:
            return Proxy("Safe", singleton)
    return None


def _slot_address(reader: BlockReader, address: str, slot: str) -> str | None:
    """The address an EIP-1967 slot holds; None when it is empty (the contract only names the slot: e.g. a
    UUPS implementation itself, or a factory of proxies)."""
    word = reader.storage_at(address, bytecode.EIP1967_SLOTS[slot])
    value = int(word or "0x0", 16)
    return "0x" + f"{value:040x}"[-40:] if value else None


def _call_address(reader: BlockReader, to: str, signature: str) -> str | None:
    try:
        answer = decode_answer(signature, reader.call(to, encode_call(signature)))
    except RpcAnswerError:  # no such function
        return None
    return answer[0] if answer and int(answer[0], 16) else None
