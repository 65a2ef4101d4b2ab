"""Who gained and who lost in a transaction: ERC-20 transfers (and WETH-style deposits and withdrawals) from
its logs, the native coin from its call tree, netted per address and token."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from watchdog.chain.abi import topic
from watchdog.forensics.calltree import Frame

NATIVE = "native"
TRANSFER = topic("Transfer(address,address,uint256)")
DEPOSIT = topic("Deposit(address,uint256)")
WITHDRAWAL = topic("Withdrawal(address,uint256)")

Net = dict[str, dict[str, int]]  # address -> token -> signed amount (raw units)


def _address(word: str) -> str:
    return "0x" + word[-40:].lower()


def token_moves(logs: list[dict[str, Any]]) -> list[tuple[str, str, str, int]]:
    """(token, from, to, amount) per transfer; a deposit is a mint from the zero address, a withdrawal a burn."""
    moves = []
    zero = "0x" + "00" * 20
    for entry in logs:
        topics, data, token = entry.get("topics") or [], entry.get("data") or "0x", entry["address"].lower()
        if not topics or len(data) < 66:
            continue
        amount = int(data[2:66], 16)
        if topics[0] == TRANSFER and len(topics) == 3:
            moves.append((token, _address(topics[1]), _address(topics[2]), amount))
        elif topics[0] == DEPOSIT and len(topics) == 2:
            moves.append((token, zero, _address(topics[1]), amount))
        elif topics[0] == WITHDRAWAL and len(topics) == 2:
            moves.append((token, _address(topics[1]), zero, amount))
    return moves


def native_moves(root: Frame, sender: str, gas_paid: int) -> list[tuple[str, str, str, int]]:
    """Coin moved by frames that took effect, plus the gas the sender paid (to the block's producer)."""
    moves = [(NATIVE, f.sender, f.to, f.value) for f, gone in root.walk()
             if f.value and not gone and f.kind not in ("DELEGATECALL", "STATICCALL")]
    if gas_paid:
        moves.append((NATIVE, sender, "gas", gas_paid))
    return moves


def net(moves: list[tuple[str, str, str, int]]) -> Net:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for token, source, dest, amount in moves:
        if source == dest or not amount:
            continue
        totals[source][token] -= amount
        totals[dest][token] += amount
    return {a: {t: v for t, v in tokens.items() if v} for a, tokens in totals.items() if any(tokens.values())}


def combine(*nets: Net) -> Net:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for each in nets:
        for address, tokens in each.items():
            for token, amount in tokens.items():
                out[address][token] += amount
    return {a: {t: v for t, v in tokens.items() if v} for a, tokens in out.items() if any(tokens.values())}
