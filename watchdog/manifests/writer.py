"""Suggested manifest entries and the files they become: manifest.json plus one ABI file per contract type."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.errors import ConfigError
from watchdog.manifest import load_manifest

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(slots=True)
class Draft:
    """One suggested manifest entry, with the reasons for its role (shown to the user, not written)."""

    name: str
    address: str
    role: str
    abi: list[dict[str, Any]]
    reasons: list[str] = field(default_factory=list)
    pause: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # further manifest keys, e.g. "implementation"
    abi_file: str | None = None  # name of its file under abi/ (several deployments of one type share it)

    def entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "address": self.address, "role": self.role,
                               "abi": f"abi/{self.abi_file or safe_name(self.name)}.json"}
        if self.pause:
            out["pause"] = self.pause
        return {**out, **self.extra}


def safe_name(text: str) -> str:
    """A name usable as a manifest name and a file name."""
    return UNSAFE.sub("-", text).strip("-") or "contract"


def unique_names(drafts: list[Draft]) -> None:
    """Names are keys of the manifest: a repeated one gets -2, -3... in order."""
    seen: dict[str, int] = {}
    for draft in drafts:
        draft.name = safe_name(draft.name)
        count = seen.get(draft.name, 0) + 1
        seen[draft.name] = count
        if count > 1:
            draft.name = f"{draft.name}-{count}"
            seen[draft.name] = 1


def write_manifest(drafts: list[Draft], chain_id: int, block: int, path: Path, *, force: bool = False,
                   **extra: Any) -> Path:
    """Write `path` and its ABI files under abi/ beside it, then read it back with the watchdog's own loader:
    what is written is a valid manifest. `extra`: further top-level keys (e.g. `safe`)."""
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists: pass --force to overwrite it, or choose another --out")
    if not drafts:
        raise ConfigError("no contract to write: nothing was recognised at the given addresses or in the deployment")
    unique_names(drafts)
    abi_dir = path.parent / "abi"
    abi_dir.mkdir(parents=True, exist_ok=True)
    for draft in drafts:
        (abi_dir / f"{draft.abi_file or safe_name(draft.name)}.json").write_text(json.dumps(draft.abi, indent=1) + "\n")
    manifest = {"chain_id": chain_id, "block": block, "contracts": [d.entry() for d in drafts], **extra}
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    load_manifest(path)
    return path.resolve()
