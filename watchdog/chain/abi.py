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


def _word_reader(kind: str) -> Callable[[str], Any] | None:
    """A fast reader of one 32-byte hex word (64 chars) for a static elementary type, else None."""
    if kind == "address":
        return lambda word: "0x" + word[24:]
    if kind == "bool":
        return lambda word: int(word, 16) != 0
    if kind.startswith("uint") and kind[4:].isdigit():
        return lambda word: int(word, 16)
    if kind.startswith("int") and kind[3:].isdigit():
        def signed(word: str) -> int:
            value = int(word, 16)
            return value - (1 << 256) if value >= 1 << 255 else value
        return signed
    if kind.startswith("bytes") and kind[5:].isdigit():
        size = int(kind[5:])
        return lambda word: "0x" + word[: 2 * size]
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
    """Decodes the logs of one event signature."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.name: str = event["name"]
        self.topic0 = event_topic(event)
        inputs = event.get("inputs", [])
        self.indexed = [(i.get("name") or f"arg{n}", canonical_type(i)) for n, i in enumerate(inputs) if i.get("indexed")]
        self.data = [(i.get("name") or f"arg{n}", canonical_type(i)) for n, i in enumerate(inputs) if not i.get("indexed")]
        # Dynamic indexed values are only their keccak hash on chain: keep the topic as is.
        self._topic_readers = [_word_reader(kind) or (lambda word: "0x" + word) for _, kind in self.indexed]
        readers = [_word_reader(kind) for _, kind in self.data]
        self._data_readers = readers if all(readers) else None
        self._data_types = [kind for _, kind in self.data]

    def decode(self, topics: tuple[str, ...], data: str) -> dict[str, Any] | None:
        """Arguments by name, or None when the log does not fit this event (wrong topic count, short data)."""
        if len(topics) != 1 + len(self.indexed):
            return None
        args: dict[str, Any] = {}
        for (name, _), reader, topic in zip(self.indexed, self._topic_readers, topics[1:]):
            args[name] = reader(topic[2:].rjust(64, "0"))
        hexdata = data[2:]
        if self._data_readers is not None:
            if len(hexdata) < 64 * len(self._data_readers):
                return None
            for n, ((name, _), reader) in enumerate(zip(self.data, self._data_readers)):
                args[name] = reader(hexdata[64 * n: 64 * n + 64])
        elif self.data:
            try:
                values = abi_decode(self._data_types, bytes.fromhex(hexdata))
            except Exception:  # any malformed payload: the log stays raw
                return None
            for (name, _), value in zip(self.data, values):
                args[name] = _plain(value)
        return args


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

    def decode(self, item: Log) -> Log:
        """Fill event/args/contract in place when an ABI explains the log; otherwise leave it raw."""
        item.contract = self.names.get(item.address)
        if not item.topics:
            return item
        topic0 = item.topics[0]
        own = self._by_address.get(item.address)
        candidates = [own[topic0]] if own and topic0 in own else self._by_topic.get(topic0, ())
        for decoder in candidates:
            args = decoder.decode(item.topics, item.data)
            if args is not None:
                item.event, item.args = decoder.name, args
                break
        return item
