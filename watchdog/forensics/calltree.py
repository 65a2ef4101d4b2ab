"""The call tree of a transaction (the node's callTracer), decoded with the names a report knows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchdog.chain.rpc import RpcClient
from watchdog.forensics.names import Names

CREATES = ("CREATE", "CREATE2")


@dataclass
class Frame:
    kind: str  # CALL | DELEGATECALL | STATICCALL | CREATE | CREATE2 | SELFDESTRUCT
    sender: str
    to: str
    value: int
    input: str
    error: str | None
    calls: list["Frame"] = field(default_factory=list)

    @property
    def reverted(self) -> bool:
        return self.error is not None

    def walk(self, inside_revert: bool = False) -> list[tuple["Frame", bool]]:
        """Every frame, depth first, with whether it (or a caller) reverted: reverted frames changed nothing."""
        gone = inside_revert or self.reverted
        out = [(self, gone)]
        for child in self.calls:
            out += child.walk(gone)
        return out


def trace(rpc: RpcClient, tx_hash: str) -> Frame:
    return _frame(rpc.call("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}]))


def _frame(raw: dict[str, Any]) -> Frame:
    return Frame(kind=raw.get("type", "CALL"), sender=(raw.get("from") or "").lower(), to=(raw.get("to") or "").lower(),
                 value=int(raw.get("value") or "0x0", 16), input=raw.get("input") or "0x",
                 error=raw.get("error"), calls=[_frame(c) for c in raw.get("calls") or []])


def decoded(frame: Frame, names: Names, depth: int = 0, limit: int = 400) -> list[dict[str, Any]]:
    """The tree as flat rows (depth-first, with depth), each call named: at most `limit` rows."""
    rows: list[dict[str, Any]] = []

    def visit(f: Frame, level: int) -> None:
        if len(rows) >= limit:
            return
        function = ("constructor" if f.kind in CREATES else names.function(f.input)
                    or (f.input[:10] if len(f.input) >= 10 else "receive"))
        rows.append({"depth": level, "kind": f.kind, "from": f.sender, "to": f.to, "to_name": names.name(f.to),
                     "function": function, "value": str(f.value), "error": f.error})
        for child in f.calls:
            visit(child, level + 1)

    visit(frame, depth)
    return rows


def created(frame: Frame) -> list[str]:
    """Contracts the transaction created (frames that did not revert)."""
    return [f.to for f, gone in frame.walk() if f.kind in CREATES and not gone and f.to]
