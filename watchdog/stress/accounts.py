"""The accounts a protocol has: every address its own events name in an indexed topic (deposits, borrows, positions
opened, transfers...), read from the block its contracts were deployed in (found by bisecting `eth_getCode`)."""

from __future__ import annotations

from collections.abc import Iterable

from watchdog.chain.rpc import RpcAnswerError, RpcClient

MAX_RANGE = 10_000  # blocks per eth_getLogs, halved when the node refuses
ZERO_WORD_PREFIX = "0x" + "00" * 12
SMALLEST_ADDRESS = 1 << 64  # an indexed word below this is a number (a nonce, an id), not an address


def deployed_at(rpc: RpcClient, address: str, head: int) -> int:
    """The first block at which `address` has code (0 when the node keeps no history that far back)."""
    low, high = 0, head
    try:
        if _code(rpc, address, 0):
            return 0
    except RpcAnswerError:
        return 0
    while high - low > 1:
        middle = (low + high) // 2
        try:
            has = _code(rpc, address, middle)
        except RpcAnswerError:  # a node without that state: start from there
            return middle
        low, high = (low, middle) if has else (middle, high)
    return high


def _code(rpc: RpcClient, address: str, block: int) -> bool:
    return (rpc.call("eth_getCode", [address, hex(block)]) or "0x") != "0x"


def named_accounts(rpc: RpcClient, emitters: Iterable[str], first: int, last: int) -> dict[str, set[str]]:
    """Emitter -> the addresses its logs in [first, last] carry in indexed topics."""
    wanted = sorted({e.lower() for e in emitters})
    out: dict[str, set[str]] = {e: set() for e in wanted}
    if not wanted:
        return out
    start, size = first, MAX_RANGE
    while start <= last:
        end = min(last, start + size - 1)
        try:
            logs = rpc.call("eth_getLogs", [{"address": wanted, "fromBlock": hex(start), "toBlock": hex(end)}]) or []
        except RpcAnswerError:
            if size == 1:
                raise
            size = max(1, size // 2)  # the node caps ranges or results: ask for less
            continue
        for entry in logs:
            emitter = entry["address"].lower()
            for word in (entry.get("topics") or [])[1:]:
                if word.startswith(ZERO_WORD_PREFIX) and int(word, 16) >= SMALLEST_ADDRESS:
                    out.setdefault(emitter, set()).add("0x" + word[-40:].lower())
        start = end + 1
    return out
