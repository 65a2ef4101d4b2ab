"""Find the verified source of deployed bytecode, in order: local forge artifacts (metadata hash, then code
equality), a Sourcify-format folder, an Etherscan-compatible explorer API. A hit is laid out as a small
Foundry project (sources at their unit names, remappings in foundry.toml) that `scan_path` can analyse."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_utils import to_checksum_address

from watchdog.errors import ConfigError
from watchdog.scan import bytecode


@dataclass(slots=True)
class SourceLocations:
    artifacts: list[Path] = field(default_factory=list)  # forge `out/` folders
    sourcify: Path | None = None
    explorer_api: str | None = None
    explorer_key: str | None = None


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


def _layout(
    workdir: Path, sources: dict[str, str], remappings: list[str], contract: str | None, origin: str, preferred: str | None
) -> ResolvedSource:
    """Write sources at their unit names in a fresh folder with a foundry.toml carrying the remappings."""
    root = Path(tempfile.mkdtemp(prefix=f"{origin}-", dir=workdir)).resolve()
    for unit, content in sources.items():
        path = (root / unit.lstrip("/")).resolve()
        if not path.is_relative_to(root):
            raise ConfigError(f"verified source names a file outside its folder ({unit}): refusing to write it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (root / "foundry.toml").write_text(
        "[profile.default]\nsrc = \".\"\nlibs = []\nremappings = " + json.dumps(list(remappings)) + "\n"
    )
    target = preferred if preferred in sources else None
    if target is None and contract:
        pattern = re.compile(rf"\b(contract|library)\s+{re.escape(contract)}\b")
        target = next((unit for unit, text in sources.items() if pattern.search(text)), None)
    target = target or next(iter(sources))
    return ResolvedSource(origin, root / target.lstrip("/"), contract)


def from_sourcify(folder: Path, chain_id: int, address: str, workdir: Path) -> ResolvedSource | None:
    if not folder.is_dir():
        raise ConfigError(f"--sourcify {folder} is not a folder: give a Sourcify repository folder")
    for base in (folder / "contracts", folder):
        for match in ("full_match", "partial_match"):
            for name in (to_checksum_address(address), address.lower()):
                entry = base / match / str(chain_id) / name
                if (entry / "metadata.json").is_file():
                    return _sourcify_entry(entry, workdir)
    return None


def _sourcify_entry(entry: Path, workdir: Path) -> ResolvedSource:
    metadata = json.loads((entry / "metadata.json").read_text())
    sources = {}
    for unit, info in metadata.get("sources", {}).items():
        content = info.get("content")
        if content is None:
            on_disk = entry / "sources" / unit.lstrip("/")
            if not on_disk.is_file():
                raise ConfigError(f"Sourcify entry {entry.name} lacks the source {unit}: the folder is incomplete")
            content = on_disk.read_text()
        sources[unit] = content
    settings = metadata.get("settings", {})
    target = next(iter(settings.get("compilationTarget", {}).items()), (None, None))
    return _layout(workdir, sources, settings.get("remappings", []), target[1], "sourcify", target[0])


def from_explorer(api: str, key: str | None, address: str, workdir: Path, timeout: float = 20.0) -> ResolvedSource | None:
    """Etherscan-compatible `module=contract&action=getsourcecode`."""
    params = {"module": "contract", "action": "getsourcecode", "address": address}
    if key:
        params["apikey"] = key
    try:
        response = httpx.get(api, params=params, timeout=timeout)
        response.raise_for_status()
        body = response.json()
    except httpx.HTTPStatusError as exc:
        raise ConfigError(f"explorer API {api} answered HTTP {exc.response.status_code}: check --explorer-api and the key") from None
    except (httpx.HTTPError, ValueError) as exc:
        reason = str(exc).replace(key, "***") if key else str(exc)  # the key travels in the query string
        raise ConfigError(f"explorer API {api} failed: {type(exc).__name__}: {reason}") from None
    result = body.get("result")
    if body.get("status") != "1" or not isinstance(result, list) or not result:
        return None
    entry: dict[str, Any] = result[0]
    code = entry.get("SourceCode") or ""
    if not code.strip():
        return None  # not verified
    contract = entry.get("ContractName") or None
    remappings: list[str] = []
    try:
        if code.startswith("{{"):  # a standard-JSON input, wrapped in one more pair of braces
            standard = json.loads(code[1:-1])
            sources = {unit: info["content"] for unit, info in standard["sources"].items()}
            remappings = standard.get("settings", {}).get("remappings", [])
        elif code.startswith("{"):  # several files: {"name.sol": {"content": ...}}
            parsed = json.loads(code)
            parsed = parsed.get("sources", parsed)
            sources = {unit: info["content"] for unit, info in parsed.items()}
        else:
            sources = {f"{contract or 'Contract'}.sol": code}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise ConfigError(f"explorer API {api} returned a malformed SourceCode for {address}") from None
    return _layout(workdir, sources, remappings, contract, "explorer", None)


def resolve(code_hex: str, address: str, chain_id: int, where: SourceLocations, workdir: Path) -> ResolvedSource | None:
    """The first source found; fetched sources are written under `workdir` (the caller removes it)."""
    if where.artifacts:
        found = from_forge_artifacts(code_hex, where.artifacts)
        if found:
            return found
    if where.sourcify:
        found = from_sourcify(where.sourcify, chain_id, address, workdir)
        if found:
            return found
    if where.explorer_api:
        return from_explorer(where.explorer_api, where.explorer_key, address, workdir)
    return None
