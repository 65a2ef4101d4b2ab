"""The deployment manifest: which contracts a protocol has, their roles, ABIs and how to pause them.

The watchdog reads this schema for any protocol; the devnet deployer writes it for the demo world.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from watchdog.errors import ConfigError

Role = Literal[
    "market", "vault", "lending", "oracle_feed", "oracle_adapter", "twap_oracle", "amm_pair", "router",
    "token", "flash_lender", "guardian", "safe", "other",
]


class PauseSpec(BaseModel):
    """How to pause a contract: through the guardian with a scope, or by its own pause function."""

    model_config = ConfigDict(extra="forbid")
    via: Literal["guardian", "self"]
    guardian: str | None = None          # guardian address when via == "guardian"
    scope: Literal["protocol", "market", "function_group"] = "protocol"
    scope_id: str | None = None          # bytes32 hex naming the market or function group
    function: str = "pause()"            # the contract's own pause function when via == "self"


class ContractEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    address: str
    role: Role
    abi: str | list[dict[str, Any]] = Field(default_factory=list)  # path (relative to the manifest) or inline
    pause: PauseSpec | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not (value.startswith("0x") and len(value) == 42):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        int(value, 16)
        return value


class SafeInfo(BaseModel):
    address: str
    owners: list[str]
    threshold: int


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")
    chain_id: int
    block: int = 0
    contracts: list[ContractEntry]
    safe: SafeInfo | None = None
    source: Path | None = Field(default=None, exclude=True)

    def by_role(self, role: str) -> list[ContractEntry]:
        return [c for c in self.contracts if c.role == role]

    def by_name(self, name: str) -> ContractEntry:
        for entry in self.contracts:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def abi_of(self, entry: ContractEntry) -> list[dict[str, Any]]:
        """The entry's ABI; a path is read relative to the manifest (forge artifacts: their "abi" key)."""
        if isinstance(entry.abi, list):
            return entry.abi
        path = Path(entry.abi)
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"ABI of {entry.name} at {path} is unreadable ({exc}): point `abi` at a JSON ABI file") from exc
        return data["abi"] if isinstance(data, dict) else data


def load_manifest(path: Path | str) -> Manifest:
    """Read and validate a manifest; one-line ConfigError naming the bad key."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"manifest {path} cannot be read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"manifest {path} is not JSON (line {exc.lineno}): {exc.msg}") from exc
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"manifest {path}: {where}: {err['msg']}") from exc
    manifest.source = path.resolve()
    return manifest
