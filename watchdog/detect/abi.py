"""Small ABI helpers for rules: topic/selector hashes, event decoding and typed eth_call reads (eth-abi, no web3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from eth_abi import decode, encode
from eth_utils import keccak

from watchdog.chain.events import Log


@lru_cache(maxsize=1024)
def topic(signature: str) -> str:
    """topic0 of an event signature such as `Transfer(address,address,uint256)`."""
    return "0x" + keccak(text=signature.replace(" ", "")).hex()


@lru_cache(maxsize=1024)
def selector(signature: str) -> str:
    """4-byte function selector of `name(types)`."""
    return "0x" + keccak(text=signature.replace(" ", "")).hex()[:8]


def _canonical(param: dict[str, Any]) -> str:
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in param.get("components", [])) + ")" + kind[5:]
    return kind


def _normalise(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event: its name, canonical signature and inputs, able to decode a matching log."""

    name: str
    inputs: tuple[tuple[str, str, bool], ...]  # (name, canonical type, indexed)

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(t for _, t, _ in self.inputs)})"

    @property
    def topic0(self) -> str:
        return topic(self.signature)

    @property
    def indexed_count(self) -> int:
        return sum(1 for _, _, indexed in self.inputs if indexed)

    @classmethod
    def from_abi(cls, item: dict[str, Any]) -> "EventSpec":
        inputs = tuple(
            (p.get("name") or f"arg{i}", _canonical(p), bool(p.get("indexed"))) for i, p in enumerate(item.get("inputs", []))
        )
        return cls(item["name"], inputs)

    @classmethod
    def parse(cls, text: str) -> "EventSpec":
        """Human form: `FlashLoan(address indexed target, address initiator, uint256 amount)`."""
        match = re.fullmatch(r"\s*(\w+)\s*\((.*)\)\s*", text)
        if not match:
            raise ValueError(f"not an event signature: {text!r}")
        inputs = []
        for i, part in enumerate(p.split() for p in match.group(2).split(",") if p.strip()):
            indexed = "indexed" in part
            words = [w for w in part if w != "indexed"]
            inputs.append((words[1] if len(words) > 1 else f"arg{i}", words[0], indexed))
        return cls(match.group(1), tuple(inputs))

    def decode(self, log: Log) -> dict[str, Any] | None:
        """Arguments of `log` by name, or None when the log does not fit this event's shape."""
        if not log.topics or log.topics[0] != self.topic0 or len(log.topics) != 1 + self.indexed_count:
            return None
        plain = [(n, t) for n, t, indexed in self.inputs if not indexed]
        try:
            values = decode([t for _, t in plain], bytes.fromhex(log.data[2:])) if plain else ()
        except Exception:  # wrong shape from an unrelated emitter sharing the topic
            return None
        args: dict[str, Any] = dict(zip((n for n, _ in plain), (_normalise(v) for v in values)))
        topics = iter(log.topics[1:])
        for name, kind, indexed in self.inputs:
            if indexed:
                raw = bytes.fromhex(next(topics)[2:])
                args[name] = _normalise(decode([kind], raw)[0]) if _is_static(kind) else "0x" + raw.hex()
        return args


def _is_static(kind: str) -> bool:
    return not (kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("("))


class EventDecoder:
    """Decodes logs by topic0 (several shapes may share a topic: they differ by indexed count)."""

    def __init__(self, specs: Iterable[EventSpec] = ()) -> None:
        self._by_topic: dict[str, list[EventSpec]] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: EventSpec) -> None:
        shapes = self._by_topic.setdefault(spec.topic0, [])
        if spec not in shapes:
            shapes.append(spec)

    def add_abi(self, abi: list[dict[str, Any]]) -> None:
        for item in abi:
            if item.get("type") == "event" and not item.get("anonymous"):
                self.add(EventSpec.from_abi(item))

    def decode(self, log: Log) -> Log:
        """Fill `log.event`/`log.args` in place when the log is still raw and its topic is known."""
        if log.event is None and log.topics:
            for spec in self._by_topic.get(log.topics[0], ()):
                args = spec.decode(log)
                if args is not None:
                    log.event, log.args = spec.name, args
                    break
        return log


_CALL = re.compile(r"\s*(\w+)\s*\(([^()]*)\)\s*(?:\(([^()]*)\))?\s*")


@lru_cache(maxsize=512)
def parse_call(signature: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """`balanceOf(address)(uint256)` -> (selector-signature, arg types, return types)."""
    match = _CALL.fullmatch(signature)
    if not match:
        raise ValueError(f"not a call signature: {signature!r} (expected e.g. 'balanceOf(address)(uint256)')")
    name, args, returns = match.groups()
    arg_types = tuple(a.strip() for a in args.split(",") if a.strip())
    ret_types = tuple(r.strip() for r in (returns or "").split(",") if r.strip())
    return f"{name}({','.join(arg_types)})", arg_types, ret_types


def encode_call(signature: str, args: Iterable[Any] = ()) -> str:
    fn, arg_types, _ = parse_call(signature)
    return selector(fn) + encode(list(arg_types), list(args)).hex()


def decode_result(signature: str, raw: str) -> tuple[Any, ...]:
    _, _, ret_types = parse_call(signature)
    return decode_values(ret_types, raw)


def decode_values(types: Iterable[str], raw: str) -> tuple[Any, ...]:
    """ABI-encoded `raw` (hex) as values of `types`, addresses lowercase and bytes as hex."""
    return tuple(_normalise(v) for v in decode(list(types), bytes.fromhex(raw.removeprefix("0x"))))


def decode_input(signature: str, data: str) -> tuple[Any, ...] | None:
    """The arguments of calldata `data` when it calls `signature` (`swap(uint256,uint256,address,bytes)`), else None."""
    fn, arg_types, _ = parse_call(signature)
    if not data or data[:10].lower() != selector(fn):
        return None
    try:
        return decode_values(arg_types, data[10:])
    except Exception:  # the selector matches but the arguments do not fit (a collision, truncated data)
        return None


TRANSFER_TOPIC = topic("Transfer(address,address,uint256)")


def transfer_of(log: Log) -> tuple[str, str, int] | None:
    """(from, to, value) of an ERC-20 Transfer log, read by position (tokens name the arguments differently)."""
    if len(log.topics) != 3 or log.topics[0] != TRANSFER_TOPIC or len(log.data) < 66:
        return None
    return "0x" + log.topics[1][-40:], "0x" + log.topics[2][-40:], int(log.data[2:66], 16)
