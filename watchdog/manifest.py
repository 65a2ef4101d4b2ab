"""The deployment manifest: which contracts a protocol has, their roles, ABIs and how to pause them.

The watchdog reads this schema for any protocol; the devnet deployer writes it for the demo world.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from watchdog.chain.abi import parse_call
from watchdog.errors import ConfigError

Role = Literal[
    "market", "vault", "lending", "oracle_feed", "oracle_adapter", "twap_oracle", "amm_pair", "router",
    "token", "flash_lender", "guardian", "safe", "other",
]


class PauseCheck(BaseModel):
    """The read that tells a pause is in place: a view call, true when it returns a non-zero first value (or,
    with `bit`, when that bit of the first returned word is set: packed flags such as Aave's reserve config)."""

    model_config = ConfigDict(extra="forbid")
    to: str | None = None                # manifest name or address read (default: the paused contract)
    call: str = "paused()(bool)"         # view signature with its return types
    args: list[Any] = Field(default_factory=list)
    bit: int | None = Field(None, ge=0, le=255)

    @field_validator("call")
    @classmethod
    def _signature(cls, value: str) -> str:
        return _call_signature(value, returns=True)


class PauseSpec(BaseModel):
    """How to pause a contract: through the guardian with a scope (`pause(target, scope, reason)`), or by a call
    the protocol itself offers — its own `pause()`, or any function with arguments on any of its contracts
    (Aave's `PoolConfigurator.setPoolPause(true)`, Compound's `Comptroller._setMintPaused(cToken, true)`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    via: Literal["guardian", "self"]
    guardian: str | None = None          # guardian address when via == "guardian"
    scope: Literal["protocol", "market", "function_group"] = "protocol"
    scope_id: str | None = None          # bytes32 hex naming the market or function group
    to: str | None = None                # via self: the contract called (manifest name or address; default: this one)
    call: str = Field("pause()", validation_alias=AliasChoices("call", "function"))  # via self: the function
    args: list[Any] = Field(default_factory=list)  # its arguments (addresses may be manifest names)
    check: PauseCheck | None = None      # via self: the read that tells it worked (default: paused() on this one)

    @field_validator("call")
    @classmethod
    def _signature(cls, value: str) -> str:
        return _call_signature(value, returns=False)

    @model_validator(mode="after")
    def _consistent(self) -> "PauseSpec":
        if self.via == "guardian":
            return self  # the guardian's own pause(target, scope, reason): `call` only names it
        types = _argument_types(self.call)
        if len(types) != len(self.args):
            raise ValueError(f"pause.call {self.call} takes {len(types)} argument(s) but pause.args has {len(self.args)}")
        if self.check is not None and len(_argument_types(self.check.call)) != len(self.check.args):
            raise ValueError(f"pause.check.call {self.check.call} and pause.check.args do not match in number")
        return self


def _call_signature(value: str, returns: bool) -> str:
    try:
        _, _, returned = parse_call(value)
    except ValueError:
        returned = None
    if returned is None or (returned and not returns):
        example = "paused()(bool)" if returns else "setPoolPause(bool)"
        raise ValueError(f"{value!r} is not a function signature such as {example}")
    return value.replace(" ", "")


def _argument_types(signature: str) -> tuple[str, ...]:
    return parse_call(signature)[1]


class ContractEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    address: str
    role: Role
    abi: str | list[dict[str, Any]] = Field(default_factory=list)  # path (relative to the manifest) or inline
    pause: PauseSpec | list[PauseSpec] | None = None  # a list: several calls, each paused and checked (markets)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not (value.startswith("0x") and len(value) == 42):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        int(value, 16)
        return value

    @property
    def pause_paths(self) -> list[PauseSpec]:
        """Every way this contract is paused (none, one, or one per market or function group)."""
        if self.pause is None:
            return []
        return self.pause if isinstance(self.pause, list) else [self.pause]


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

    def address_of(self, ref: str | None, default: ContractEntry) -> str:
        """A contract named by manifest name or address (`None`: `default` itself); ConfigError otherwise."""
        if ref is None:
            return default.address.lower()
        for contract in self.contracts:
            if contract.name == ref:
                return contract.address.lower()
        if ref.startswith("0x") and len(ref) == 42:
            return ref.lower()
        raise ConfigError(f"manifest contract {default.name}: {ref!r} is neither a contract of the manifest nor an "
                          "address: use a manifest name or an address")

    def call_arguments(self, signature: str, values: list[Any], default: ContractEntry) -> list[Any]:
        """Arguments of `signature` as the ABI encoder takes them: manifest names become addresses, hex strings
        bytes for bytesN."""
        out = []
        for kind, value in zip(parse_call(signature)[1], values):
            if kind == "address" and isinstance(value, str):
                value = self.address_of(value, default)
            elif kind.startswith("bytes") and kind != "bytes" and isinstance(value, str):
                value = bytes.fromhex(value.removeprefix("0x").rjust(2 * int(kind[5:]), "0"))
            out.append(value)
        return out

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
