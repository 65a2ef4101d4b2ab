"""Which local build made a deployed bytecode: forge artifacts matched by metadata hash, else by code (with
immutables and metadata masked). Parsed artifacts are cached: the daemon matches every new deployment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from watchdog.detect import bytecode
from watchdog.errors import ConfigError


@dataclass(slots=True)
class ResolvedSource:
    origin: str  # forge-artifacts | sourcify | explorer
    target: Path  # the file defining the contract, inside a Foundry-style project
    contract: str | None = None


def _metadata_hash(code_hex: str) -> bytes | None:
    fields = bytecode.split_metadata(bytes.fromhex(code_hex.removeprefix("0x")))[1]
    return fields.get("ipfs") or fields.get("bzzr1") or fields.get("bzzr0")


def _project_root(start: Path) -> Path:
    for folder in [start, *start.parents]:
        if (folder / "foundry.toml").is_file():
            return folder
    return start.parent


@dataclass(slots=True)
class _Artifact:
    source: ResolvedSource
    metadata_hash: bytes | None
    code: str
    immutables: list[tuple[int, int]]


# Parsed artifacts by (file, modification time): the daemon matches every new deployment against them.
_ARTIFACTS: dict[tuple[Path, int], _Artifact | None] = {}


def _artifact(path: Path, root: Path) -> _Artifact | None:
    key = (path, path.stat().st_mtime_ns)
    if key not in _ARTIFACTS:
        _ARTIFACTS[key] = _parse_artifact(path, root)
    return _ARTIFACTS[key]


def _parse_artifact(path: Path, root: Path) -> _Artifact | None:
    try:
        artifact = json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return None
    deployed = artifact.get("deployedBytecode") or {}
    code = deployed.get("object") or ""
    metadata = artifact.get("metadata") or {}
    target = next(iter((metadata.get("settings") or {}).get("compilationTarget", {}).items()), None)
    if len(code) < 4 or not target or not (root / target[0]).is_file():
        return None
    ranges = [(r["start"], r["length"]) for refs in (deployed.get("immutableReferences") or {}).values() for r in refs]
    return _Artifact(ResolvedSource("forge-artifacts", root / target[0], target[1]), _metadata_hash(code), code, ranges)


def from_forge_artifacts(code_hex: str, folders: list[Path]) -> ResolvedSource | None:
    """The artifact with the same metadata hash, else the one with the same code (immutables and metadata aside)."""
    wanted_hash = _metadata_hash(code_hex)
    fallback: ResolvedSource | None = None
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(f"--artifacts {folder} is not a folder: give a forge `out/` folder")
        root = _project_root(folder.resolve())
        for path in sorted(folder.glob("*.sol/*.json")):
            entry = _artifact(path, root)
            if entry is None:
                continue
            if wanted_hash and entry.metadata_hash == wanted_hash:
                return entry.source
            if fallback is None and bytecode.normalized(entry.code, entry.immutables) == bytecode.normalized(code_hex, entry.immutables):
                fallback = entry.source  # same code, different metadata (e.g. other source paths)
    return fallback


