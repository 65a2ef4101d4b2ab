"""ABI registry: decodes logs into typed event records; a log no ABI explains stays raw.

ABIs come from the deployment manifest (per address), forge artifacts and user ABI files (global, by
topic0). Decoding is the hot path of ingestion, so static types (address, uintN, intN, bool, bytesN),
which are almost all event fields, are read straight from the hex words; eth-abi handles the rest.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable

from eth_abi import decode as abi_decode
from eth_utils import keccak

from watchdog.chain.events import Log
from watchdog.errors import ConfigError
from watchdog.manifest import Manifest

log = logging.getLogger("watchdog.abi")


def canonical_type(param: dict[str, Any]) -> str:
    """The type as it appears in a signature (tuples expanded)."""
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(canonical_type(c) for c in param.get("components", [])) + ")" + kind[len("tuple"):]
    return kind


def event_topic(event: dict[str, Any]) -> str:
    signature = f"{event['name']}({','.join(canonical_type(i) for i in event.get('inputs', []))})"
    return "0x" + keccak(text=signature).hex()


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


def _plain(value: Any) -> Any:
    """eth-abi values as JSON-friendly ones: bytes as 0x-hex, addresses lowercase."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class EventDecoder:
    """Decodes the logs of one event signature.

    For the common case (every data field static) the decoder is generated as one Python function
    that slices the hex words directly: ingestion decodes tens of thousands of logs per second.
    """

    def __init__(self, event: dict[str, Any]) -> None:
        self.name: str = event["name"]
        self.topic0 = event_topic(event)
        inputs = event.get("inputs", [])
        self.indexed = [(i.get("name") or f"arg{n}", canonical_type(i)) for n, i in enumerate(inputs) if i.get("indexed")]
        self.data = [(i.get("name") or f"arg{n}", canonical_type(i)) for n, i in enumerate(inputs) if not i.get("indexed")]
        self._data_types = [kind for _, kind in self.data]
        self.decode = self._generate()

    def _generate(self) -> Callable[[tuple[str, ...], str], dict[str, Any] | None]:
        """decode(topics, data) -> arguments by name, or None when the log does not fit this event."""
        fields = []
        for n, (name, kind) in enumerate(self.indexed, start=1):
            # Dynamic indexed values are only their keccak hash on chain: keep the topic as is.
            fields.append(f"{name!r}: {_word_expr(kind, f'topics[{n}]') or f'topics[{n}]'}")
        words = [_word_expr(kind, f"data[{2 + 64 * n}:{66 + 64 * n}]") for n, (_, kind) in enumerate(self.data)]
        static = all(w is not None for w in words)
        if static:
            fields += [f"{name!r}: {expr}" for (name, _), expr in zip(self.data, words)]
        lines = ["def decode(topics, data):",
                 f"    if len(topics) != {1 + len(self.indexed)}: return None"]
        if static:
            lines.append(f"    if len(data) < {2 + 64 * len(self.data)}: return None")
            lines.append("    return {" + ", ".join(fields) + "}")
        else:
            lines.append("    values = _dynamic(data)")
            lines.append("    if values is None: return None")
            lines.append("    return {" + ", ".join(fields) + (", " if fields else "") + "**values}")
        namespace: dict[str, Any] = {"_signed": _signed, "_dynamic": self._dynamic}
        exec("\n".join(lines), namespace)  # noqa: S102 (source built from ABI types and repr'd names only)
        return namespace["decode"]

    def _dynamic(self, data: str) -> dict[str, Any] | None:
        try:
            values = abi_decode(self._data_types, bytes.fromhex(data[2:]))
        except Exception:  # any malformed payload: the log stays raw
            return None
        return {name: _plain(value) for (name, _), value in zip(self.data, values)}


class AbiRegistry:
    """Events known per contract address (watched contracts) and globally by topic0."""

    def __init__(self) -> None:
        self._by_address: dict[str, dict[str, EventDecoder]] = {}
        self._by_topic: dict[str, list[EventDecoder]] = {}
        self.names: dict[str, str] = {}  # watched address -> manifest name

    def add(self, abi: list[dict[str, Any]], address: str | None = None, name: str | None = None) -> None:
        events = [EventDecoder(item) for item in abi if item.get("type") == "event" and not item.get("anonymous")]
        if address is not None:
            address = address.lower()
            if name:
                self.names[address] = name
            known = self._by_address.setdefault(address, {})
            for decoder in events:
                known[decoder.topic0] = decoder
        for decoder in events:
            same = self._by_topic.setdefault(decoder.topic0, [])
            if all(len(d.indexed) != len(decoder.indexed) or d.name != decoder.name for d in same):
                same.append(decoder)

    def add_manifest(self, manifest: Manifest) -> None:
        for entry in manifest.contracts:
            self.add(manifest.abi_of(entry), entry.address, entry.name)

    def add_abi_file(self, path: Path, address: str | None = None, name: str | None = None) -> None:
        """A JSON ABI (list) or a forge/hardhat artifact (object with "abi")."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"ABI file {path} is unreadable ({exc}): point it at a JSON ABI or a forge artifact") from exc
        abi = data.get("abi") if isinstance(data, dict) else data
        if not isinstance(abi, list):
            raise ConfigError(f"ABI file {path} has no ABI list: expected a JSON list or an object with an `abi` key")
        self.add(abi, address, name)

    def add_artifacts(self, directory: Path) -> None:
        """Every forge artifact under `directory` (e.g. contracts/out), for events of any emitter."""
        for path in sorted(Path(directory).glob("*/*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                log.warning("skipping unreadable artifact %s", path)
                continue
            if isinstance(data, dict) and isinstance(data.get("abi"), list):
                self.add(data["abi"])

    def candidates(self, address: str, topic0: str | None) -> list[EventDecoder]:
        """Decoders to try for a log: the emitter's own ABI first, else any ABI knowing the topic."""
        if topic0 is None:
            return []
        own = self._by_address.get(address)
        if own and topic0 in own:
            return [own[topic0]]
        return list(self._by_topic.get(topic0, ()))

    def decode(self, item: Log) -> Log:
        """Fill event/args/contract in place when an ABI explains the log; otherwise leave it raw."""
        item.contract = self.names.get(item.address)
        for decoder in self.candidates(item.address, item.topics[0] if item.topics else None):
            args = decoder.decode(item.topics, item.data)
            if args is not None:
                item.event, item.args = decoder.name, args
                break
        return item
