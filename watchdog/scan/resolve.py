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
from urllib.parse import urlencode

from eth_utils import to_checksum_address

from watchdog.chain.http import HttpClient, HttpFailure
from watchdog.errors import ConfigError
from watchdog.redaction import redact_text, redact_url
from watchdog.detect.artifacts import ResolvedSource, from_forge_artifacts

MAX_EXPLORER_BYTES = 64 * 1024 * 1024  # a verified source with all its files (explorer or Sourcify) is far below this


@dataclass(slots=True)
class SourceLocations:
    artifacts: list[Path] = field(default_factory=list)  # forge `out/` folders
    sourcify: Path | None = None
    explorer_api: str | None = None
    explorer_key: str | None = None


def _layout(
    workdir: Path, sources: dict[str, str], remappings: list[str], contract: str | None, origin: str, preferred: str | None
) -> ResolvedSource:
    """Write sources at their unit names in a fresh folder with a foundry.toml carrying the remappings."""
    root = Path(tempfile.mkdtemp(prefix=f"{origin}-", dir=workdir)).resolve()
    for unit, content in sources.items():
        try:
            path = (root / unit.lstrip("/")).resolve()
            if not path.is_relative_to(root):
                raise ConfigError(f"verified source names a file outside its folder ({unit[:200]!r}): refusing to write it")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long for the file system...
            raise ConfigError(f"verified source names a file that cannot be written ({unit[:200]!r}: {exc})") from None
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
    budget = [MAX_EXPLORER_BYTES]  # all files of the entry together, as for an explorer's answer
    try:
        metadata = json.loads(_bounded_read(entry / "metadata.json", budget))
        sources = {}
        for unit, info in metadata.get("sources", {}).items():
            content = info.get("content")
            if content is None:
                on_disk = entry / "sources" / unit.lstrip("/")
                if not on_disk.is_file():
                    raise ConfigError(f"Sourcify entry {entry.name} lacks the source {unit}: the folder is incomplete")
                content = _bounded_read(on_disk, budget)
            if not isinstance(content, str):
                raise TypeError(f"the content of {unit} is not text")
            sources[unit] = content
        settings = metadata.get("settings", {})
        target = next(iter(settings.get("compilationTarget", {}).items()), (None, None))
        remappings = settings.get("remappings", [])
    except (ValueError, RecursionError, AttributeError, TypeError) as exc:  # not JSON, or not the metadata format
        raise ConfigError(f"Sourcify entry {entry} has malformed metadata ({type(exc).__name__}): the folder is "
                          "not a Sourcify repository") from None
    return _layout(workdir, sources, remappings, target[1], "sourcify", target[0])


def _bounded_read(path: Path, budget: list[int]) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(budget[0] + 1)
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror or exc})") from None
    budget[0] -= len(data)
    if budget[0] < 0:
        raise ConfigError(f"the Sourcify entry of {path.parent} is larger than {MAX_EXPLORER_BYTES // (1024 * 1024)} MiB")
    return data.decode("utf-8")


def from_explorer(api: str, key: str | None, address: str, workdir: Path, timeout: float = 20.0) -> ResolvedSource | None:
    """Etherscan-compatible `module=contract&action=getsourcecode`."""
    params = {"module": "contract", "action": "getsourcecode", "address": address}
    if key:
        params["apikey"] = key
    shown = redact_url(api)
    url = api + ("&" if "?" in api else "?") + urlencode(params)
    client = HttpClient()
    try:
        response = client.request("GET", url, timeout=timeout, max_bytes=MAX_EXPLORER_BYTES)
        if response.status != 200:
            raise ConfigError(f"explorer API {shown} answered HTTP {response.status}: check --explorer-api and the key")
        body = json.loads(response.body)
    except (HttpFailure, ValueError) as exc:
        reason = str(exc).replace(key, "***") if key else str(exc)  # the key travels in the query string
        raise ConfigError(f"explorer API {shown} failed: {type(exc).__name__}: {redact_text(reason)}") from None
    finally:
        client.close()
    result = body.get("result") if isinstance(body, dict) else None
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
        raise ConfigError(f"explorer API {shown} returned a malformed SourceCode for {address}") from None
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
