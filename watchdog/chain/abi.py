"""The ABI codec: topic and selector hashes, event decoding, typed call encoding and result decoding.

Events are known per contract address (watched contracts) and globally by topic0 (forge artifacts, user ABI
files, the event signatures rules ask for); a log no ABI explains stays raw. Decoding is the hot path of
ingestion, so static types (address, uintN, intN, bool, bytesN), which are almost all event fields, are read
straight from the hex words by a function generated per event; eth-abi handles the rest.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from watchdog.chain.events import Log
from watchdog.errors import ConfigError
from watchdog.validation import abi_of_json, abi_problems

log = logging.getLogger("watchdog.abi")


@lru_cache(maxsize=1024)
def topic(signature: str) -> str:
    """topic0 of an event signature such as `Transfer(address,address,uint256)`."""
    return "0x" + keccak(text=signature.replace(" ", "")).hex()


@lru_cache(maxsize=1024)
def selector(signature: str) -> str:
    """4-byte function selector of `name(types)`, 0x-prefixed."""
    return "0x" + keccak(text=signature.replace(" ", "")).hex()[:8]


def canonical_type(param: dict[str, Any]) -> str:
    """The type as it appears in a signature (tuples expanded)."""
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(canonical_type(c) for c in param.get("components", [])) + ")" + kind[len("tuple"):]
    return kind


STATIC_TYPE = re.compile(r"^(address|bool|bytes\d+|u?int\d*)$")


@dataclass(frozen=True)
class Function:
    """A function whose inputs and outputs are all static values: one that can be called and decoded knowing
    nothing but its ABI entry."""

    name: str
    signature: str               # name(inputs)(outputs), struct outputs flattened
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    labels: tuple[str, ...]      # the outputs' names, struct components included
    view: bool
    flattened: bool              # an output is a struct, read as its components


def static_functions(abi: Iterable[dict[str, Any]]) -> list[Function]:
    """The functions of an ABI whose inputs and outputs (struct components included) are static values."""
    found = []
    for item in abi:
        if item.get("type") != "function":
            continue
        inputs = tuple(canonical_type(p) for p in item.get("inputs", []))
        flat = _flatten(item.get("outputs", []))
        if flat is None or not all(STATIC_TYPE.match(t) for t in inputs):
            continue
        outputs, labels = tuple(t for t, _ in flat), tuple(n for _, n in flat)
        found.append(Function(item["name"], f"{item['name']}({','.join(inputs)})({','.join(outputs)})", inputs, outputs,
                              labels, item.get("stateMutability") in ("view", "pure"),
                              any(p.get("type") == "tuple" for p in item.get("outputs", []))))
    return found


def _flatten(params: list[dict[str, Any]]) -> list[tuple[str, str]] | None:
    out: list[tuple[str, str]] = []
    for p in params:
        if p["type"] == "tuple":
            inner = _flatten(p.get("components", []))
            if inner is None:
                return None
            out += inner
        elif STATIC_TYPE.match(p["type"]):
            out.append((p["type"], p.get("name") or ""))
        else:
            return None
    return out


def plain(value: Any) -> Any:
    """eth-abi values as JSON-friendly ones: bytes as 0x-hex, addresses lowercase."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _signed(value: int) -> int:
    return value - (1 << 256) if value >= 1 << 255 else value


def _word_expr(kind: str, word: str) -> str | None:
    """Python source reading one 32-byte hex word (expression `word`, 64 hex chars, maybe 0x-prefixed)
    as a static elementary type; None for types eth-abi must decode."""
    if kind == "address":
        return f'"0x" + {word}[-40:]'
    if kind == "bool":
        return f"int({word}, 16) != 0"
    if kind.startswith("uint") and kind[4:].isdigit():
        return f"int({word}, 16)"
    if kind.startswith("int") and kind[3:].isdigit():
        return f"_signed(int({word}, 16))"
    if kind.startswith("bytes") and kind[5:].isdigit():
        return f'"0x" + {word}[-64:][:{2 * int(kind[5:])}]'
    return None


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event: its name and inputs (name, canonical type, indexed), able to decode a matching log."""

    name: str
    inputs: tuple[tuple[str, str, bool], ...]
    _decode: Callable[[tuple[str, ...], str], dict[str, Any] | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_decode", _generate(self))

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
        return cls(item["name"], tuple((p.get("name") or f"arg{n}", canonical_type(p), bool(p.get("indexed")))
                                       for n, p in enumerate(item.get("inputs", []))))

    @classmethod
    def parse(cls, text: str) -> "EventSpec":
        """Human form: `FlashLoan(address indexed target, address initiator, uint256 amount)`."""
        match = re.fullmatch(r"\s*(\w+)\s*\((.*)\)\s*", text)
        if not match:
            raise ValueError(f"not an event signature: {text!r}")
        inputs = []
        for n, part in enumerate(p.split() for p in match.group(2).split(",") if p.strip()):
            words = [w for w in part if w != "indexed"]
            inputs.append((words[1] if len(words) > 1 else f"arg{n}", words[0], "indexed" in part))
        return cls(match.group(1), tuple(inputs))

    def decode_raw(self, topics: tuple[str, ...], data: str) -> dict[str, Any] | None:
        """Arguments by name, or None when the topics and data do not fit this event's shape."""
        return self._decode(topics, data)

    def decode(self, entry: Log) -> dict[str, Any] | None:
        """Arguments of `entry` by name, or None when it is not this event."""
        if not entry.topics or entry.topics[0] != self.topic0:
            return None
        return self._decode(entry.topics, entry.data)


def _generate(spec: EventSpec) -> Callable[[tuple[str, ...], str], dict[str, Any] | None]:
    """decode(topics, data) for one event, generated as one function that slices the hex words directly
    when every data field is static (ingestion decodes tens of thousands of logs per second)."""
    indexed = [(name, kind) for name, kind, is_indexed in spec.inputs if is_indexed]
    data = [(name, kind) for name, kind, is_indexed in spec.inputs if not is_indexed]
    # Dynamic indexed values are only their keccak hash on chain: keep the topic as is.
    fields = [f"{name!r}: {_word_expr(kind, f'topics[{n}]') or f'topics[{n}]'}" for n, (name, kind) in enumerate(indexed, start=1)]
    words = [_word_expr(kind, f"data[{2 + 64 * n}:{66 + 64 * n}]") for n, (_, kind) in enumerate(data)]
    lines = ["def decode(topics, data):", f"    if len(topics) != {1 + len(indexed)}: return None"]
    if all(w is not None for w in words):
        fields += [f"{name!r}: {expr}" for (name, _), expr in zip(data, words)]
        lines += [f"    if len(data) < {2 + 64 * len(data)}: return None", "    return {" + ", ".join(fields) + "}"]
    else:
        lines += ["    values = _dynamic(data)", "    if values is None: return None",
                  "    return {" + ", ".join(fields) + (", " if fields else "") + "**values}"]
    types = [kind for _, kind in data]

    def dynamic(raw: str) -> dict[str, Any] | None:
        try:
            values = abi_decode(types, bytes.fromhex(raw[2:]))
        except Exception:  # any malformed payload: the log stays raw
            return None
        return {name: plain(value) for (name, _), value in zip(data, values)}

    namespace: dict[str, Any] = {"_signed": _signed, "_dynamic": dynamic}
    exec("\n".join(lines), namespace)  # noqa: S102 (source built from ABI types and repr'd names only)
    return namespace["decode"]


class ManifestLike(Protocol):
    """What the registry reads of a deployment manifest: its contracts and their ABIs."""

    contracts: Any

    def abi_of(self, entry: Any) -> list[dict[str, Any]]: ...


class AbiRegistry:
    """Events known per contract address (watched contracts) and globally by topic0."""

    def __init__(self) -> None:
        self._by_address: dict[str, dict[str, EventSpec]] = {}
        self._by_topic: dict[str, list[EventSpec]] = {}
        self.names: dict[str, str] = {}  # watched address -> manifest name

    def add(self, spec: EventSpec, address: str | None = None) -> None:
        """One event, known for `address` (when given) and for any emitter of its topic."""
        if address is not None:
            self._by_address.setdefault(address.lower(), {})[spec.topic0] = spec
        same = self._by_topic.setdefault(spec.topic0, [])
        # Several shapes may share a topic (they differ by what is indexed): keep one of each.
        if all(other.indexed_count != spec.indexed_count or other.name != spec.name for other in same):
            same.append(spec)

    def add_abi(self, abi: Iterable[dict[str, Any]], address: str | None = None, name: str | None = None) -> None:
        if address is not None and name:
            self.names[address.lower()] = name
        for item in abi:
            if item.get("type") == "event" and not item.get("anonymous"):
                self.add(EventSpec.from_abi(item), address)

    def add_manifest(self, manifest: ManifestLike) -> None:
        for entry in manifest.contracts:
            self.add_abi(manifest.abi_of(entry), entry.address, entry.name)

    def add_abi_file(self, path: Path, address: str | None = None, name: str | None = None) -> None:
        """A JSON ABI (list) or a forge/hardhat artifact (object with "abi")."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError, RecursionError) as exc:  # missing, not UTF-8, not JSON, nested too deeply
            raise ConfigError(f"ABI file {path} is unreadable ({exc}): point it at a JSON ABI or a forge artifact") from exc
        self.add_abi(abi_of_json(data, str(path)), address, name)

    def add_artifacts(self, directory: Path) -> None:
        """Every forge artifact under `directory` (e.g. contracts/out), for events of any emitter."""
        for path in sorted(Path(directory).glob("*/*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError, RecursionError):
                log.warning("skipping unreadable artifact %s", path)
                continue
            if isinstance(data, dict) and isinstance(data.get("abi"), list):
                if abi_problems(data["abi"], str(path)):
                    log.warning("skipping artifact %s: its ABI is malformed", path)
                    continue
                self.add_abi(data["abi"])

    def candidates(self, address: str, topic0: str | None) -> list[EventSpec]:
        """Events to try for a log: the emitter's own ABI first, else any ABI knowing the topic."""
        if topic0 is None:
            return []
        own = self._by_address.get(address)
        if own and topic0 in own:
            return [own[topic0]]
        return list(self._by_topic.get(topic0, ()))

    def decode(self, entry: Log) -> Log:
        """Fill event/args/contract in place when an ABI explains a raw log; otherwise leave it raw."""
        entry.contract = entry.contract or self.names.get(entry.address)
        if entry.event is None:
            for spec in self.candidates(entry.address, entry.topics[0] if entry.topics else None):
                args = spec.decode_raw(entry.topics, entry.data)
                if args is not None:
                    entry.event, entry.args = spec.name, args
                    break
        return entry


# --- function calls -------------------------------------------------------------------------------------

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
    """Calldata of `name(types)` (a return part is ignored) with `args`, 0x-prefixed."""
    fn, arg_types, _ = parse_call(signature)
    return selector(fn) + abi_encode(list(arg_types), list(args)).hex()


def decode_result(signature: str, raw: str) -> tuple[Any, ...]:
    """The return values of `name(types)(returns)` from an eth_call's hex result."""
    return decode_values(parse_call(signature)[2], raw)


def decode_values(types: Iterable[str], raw: str) -> tuple[Any, ...]:
    """ABI-encoded `raw` (hex) as values of `types`, addresses lowercase and bytes as hex."""
    return tuple(plain(v) for v in abi_decode(list(types), bytes.fromhex(raw.removeprefix("0x"))))


def decode_input(signature: str, data: str) -> tuple[Any, ...] | None:
    """The arguments of calldata `data` when it calls `signature` (`swap(uint256,uint256,address,bytes)`), else None."""
    fn, arg_types, _ = parse_call(signature)
    if not data or data[:10].lower() != selector(fn):
        return None
    try:
        return decode_values(arg_types, data[10:])
    except Exception:  # the selector matches but the arguments do not fit (a collision, truncated data)
        return None


# --- ERC-20 ---------------------------------------------------------------------------------------------

TRANSFER_TOPIC = topic("Transfer(address,address,uint256)")


def transfer_of(entry: Log) -> tuple[str, str, int] | None:
    """(from, to, value) of an ERC-20 Transfer log, read by position (tokens name the arguments differently)."""
    if len(entry.topics) != 3 or entry.topics[0] != TRANSFER_TOPIC or len(entry.data) < 66:
        return None
    return "0x" + entry.topics[1][-40:], "0x" + entry.topics[2][-40:], int(entry.data[2:66], 16)


# --- reverts --------------------------------------------------------------------------------------------

ERROR_STRING, PANIC = "0x08c379a0", "0x4e487b71"


def revert_reason(data: Any, abis: Iterable[list[dict[str, Any]]] = ()) -> str | None:
    """Why a call reverted, from its revert data (a JSON-RPC error's `data`): the message of Error(string), the
    panic code, a custom error decoded with the first ABI that declares it, else the raw data; None without data."""
    if isinstance(data, dict):
        data = data.get("data")
    if not isinstance(data, str) or not data.startswith("0x") or len(data) < 10:
        return None
    head = data[:10].lower()
    try:
        body = bytes.fromhex(data[10:])
        if head == ERROR_STRING:
            return abi_decode(["string"], body)[0]
        if head == PANIC:
            return f"panic 0x{abi_decode(['uint256'], body)[0]:x}"
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [canonical_type(p) for p in item.get("inputs", [])]
                if selector(f"{item['name']}({','.join(types)})") == head:
                    return f"{item['name']}({', '.join(str(plain(v)) for v in abi_decode(types, body))})"
    except Exception:  # malformed revert data: shown as it came
        pass
    return data
