"""The deployment manifest: which contracts a protocol has, their roles, ABIs and how to pause them.

The watchdog reads this schema for any protocol; the devnet deployer writes it for the demo world.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from watchdog.chain.abi import parse_call
from watchdog.errors import ConfigError
from watchdog.validation import Address, abi_of_json, abi_problems, check_address, plain, problem_lines, read_capped, shown

MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # a manifest or ABI file larger than this is refused before it is parsed

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
    guardian: Address | None = None      # guardian address when via == "guardian"
    scope: Literal["protocol", "market", "function_group"] = "protocol"
    scope_id: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{64}$")  # bytes32 hex naming the market or function group
    to: str | None = None                # via self: the contract called (manifest name or address; default: this one)
    call: str = Field("pause()", validation_alias=AliasChoices("call", "function"))  # via self: the function
    args: list[Any] = Field(default_factory=list)  # its arguments (addresses may be manifest names)
    check: PauseCheck | None = None      # via self: the read that tells it worked (default: paused() on this one)

    @field_validator("call")
    @classmethod
    def _signature(cls, value: str) -> str:
        return _call_signature(value, returns=False)

    @field_validator("to")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        return check_address(value) if value is not None and value.startswith("0x") else value

    @model_validator(mode="after")
    def _consistent(self) -> "PauseSpec":
        if self.via == "guardian":
            if self.guardian is None:
                raise ValueError("a pause via the guardian needs `guardian`, the guardian's address")
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


def _pause_shape(value: Any) -> str:
    return "~many" if isinstance(value, list) else "~one"


# One pause or a list of them: told apart by shape, so that a problem is reported against the shape given.
PausePaths = Annotated[Annotated[PauseSpec, Tag("~one")] | Annotated[list[PauseSpec], Tag("~many")],
                       Discriminator(_pause_shape)]


class ContractEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=200)
    address: Address
    role: Role
    abi: str | list[dict[str, Any]] = Field(default_factory=list)  # path (relative to the manifest) or inline
    pause: PausePaths | None = None  # a list: several calls, each paused and checked (markets)

    @field_validator("abi")
    @classmethod
    def _abi(cls, value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        problems = [] if isinstance(value, str) else abi_problems(value, "abi")
        if problems:  # the first one, under this entry's key: "contracts.0.abi: 3.inputs: ..."
            raise ValueError(problems[0].removeprefix("abi: "))
        return value

    @property
    def pause_paths(self) -> list[PauseSpec]:
        """Every way this contract is paused (none, one, or one per market or function group)."""
        if self.pause is None:
            return []
        return self.pause if isinstance(self.pause, list) else [self.pause]


class SafeInfo(BaseModel):
    address: Address
    owners: list[Address] = Field(min_length=1)
    threshold: int = Field(ge=1)

    @model_validator(mode="after")
    def _threshold(self) -> "SafeInfo":
        if len({owner.lower() for owner in self.owners}) != len(self.owners):
            raise ValueError("an owner is listed twice: list each owner once")
        if self.threshold > len(self.owners):
            raise ValueError(f"threshold {self.threshold} is above the {len(self.owners)} owner(s): no pause proposal "
                             "could ever be executed; lower it or list every owner")
        return self


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")
    chain_id: int = Field(gt=0)
    block: int = Field(0, ge=0)
    contracts: list[ContractEntry]
    safe: SafeInfo | None = None
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("contracts")
    @classmethod
    def _unique(cls, contracts: list[ContractEntry]) -> list[ContractEntry]:
        problems = duplicates(contracts)
        if problems:
            raise ValueError("; ".join(problems))
        return contracts

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
        data = read_json(path, f"the ABI of {plain(entry.name)}", "point `abi` at a JSON ABI file or a forge artifact")
        return abi_of_json(data, str(path))


def duplicates(contracts: list[ContractEntry]) -> list[str]:
    """Two entries with one name or one address: which one a report, a playbook or a rule means is unclear."""
    problems = []
    names: dict[str, int] = {}
    addresses: dict[str, int] = {}
    for n, entry in enumerate(contracts):
        if entry.name in names:
            problems.append(f"entry {n} has the name {shown(entry.name)} of entry {names[entry.name]}: give each contract "
                            "its own name")
        if entry.address.lower() in addresses:
            problems.append(f"entry {n} ({plain(entry.name)}) has the address of entry {addresses[entry.address.lower()]}: "
                            "list each contract once")
        names.setdefault(entry.name, n)
        addresses.setdefault(entry.address.lower(), n)
    return problems


def read_json(path: Path, what: str, fix: str) -> Any:
    """A JSON file, size-capped, or one ConfigError line naming it and the fix."""
    text = read_capped(path, MAX_MANIFEST_BYTES, lambda reason: f"{path}: {what} cannot be read ({reason}): {fix}",
                       f"{path}: {what} is larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB: {fix}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, or nesting too deep
        detail = f"line {exc.lineno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise ConfigError(f"{path}: {what} is not valid JSON ({detail}): {fix}") from None


def load_manifest(path: Path | str) -> Manifest:
    """Read and validate a manifest; ConfigError with one `file: key: problem: fix` line per problem."""
    path = Path(path)
    raw = read_json(path, "the manifest", "point to the deployment manifest (JSON)")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(problem_lines(str(path), exc))) from None
    if not manifest.contracts:
        raise ConfigError(f"{path}: contracts: the manifest lists no contract: add the contracts to watch")
    manifest.source = path.resolve()
    return manifest
