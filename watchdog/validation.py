"""Checks shared by every reader of user files (config, manifests, ABIs), and their problems as lines of the one
form users see: `file: key: problem: fix`.

Values are never echoed when they may hold a secret (a URL), and are shortened otherwise, so a line stays one
line whatever the input.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Callable

from eth_utils import to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError

from watchdog.errors import ConfigError
from watchdog.redaction import redact_text

SHOWN_CHARS = 80  # at most this much of a bad value is shown

# --- problems as lines ---------------------------------------------------------------------------------------------

_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
    "int_parsing": "write a whole number without quotes",
    "int_type": "write a whole number without quotes",
    "int_from_float": "write a whole number",
    "float_parsing": "write a number without quotes",
    "float_type": "write a number without quotes",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false (without quotes)",
    "string_type": "write a quoted string",
    "list_type": 'write a list, e.g. ["..."]',
    "dict_type": "write a table (an object in JSON)",
    "model_type": "write a table (an object in JSON)",
    "model_attributes_type": "write a table (an object in JSON)",
    "greater_than": "raise it",
    "greater_than_equal": "raise it",
    "less_than": "lower it",
    "less_than_equal": "lower it",
    "too_short": "give at least one entry",
    "too_long": "give fewer entries",
    "literal_error": "use one of the allowed values",
    "enum": "use one of the allowed values",
    "union_tag_invalid": "use one of the allowed values",
}
_SECRET_KEYS = re.compile(r"url|key|token|secret|password", re.IGNORECASE)
# What a value that does not match its pattern should look like, by the last part of its key.
_FORMS = {
    "scope_id": "is not a bytes32: write 0x and 64 hex digits",
    "type": "is not an ABI type: write one such as uint256, address, bytes32[] or tuple",
    "name": "is not an identifier: use letters, digits, _ and $, not starting with a digit",
}


_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # everything str.splitlines() splits on


def shown(value: Any) -> str:
    """A value as quoted in a problem: redacted, on one line, shortened."""
    text = _LINE_BREAKS.sub(" ", redact_text(repr(value)))
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def plain(part: Any) -> str:
    """One part of a key path as written (a table name, a list index), or quoted when it is not plain text."""
    text = str(part)
    return text if text.isprintable() and len(text) <= SHOWN_CHARS else shown(text)


def problem_lines(source: str, exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[str]:
    """One `source: key: problem: fix` line per problem pydantic found (keys under `prefix`)."""
    return [_line(source, (*prefix, *error["loc"]), error) for error in exc.errors()]


def _line(source: str, loc: tuple[Any, ...], error: Any) -> str:
    # Union branches are not keys the user wrote: validator wrappers ("function-...") and tags ("~...").
    key = ".".join(plain(p) for p in loc if not str(p).startswith(("function-", "~"))) or "(top level)"
    message = _LINE_BREAKS.sub(" ", redact_text(str(error["msg"]).removeprefix("Value error, ")))
    if error["type"] == "string_pattern_mismatch":
        message = _FORMS.get(str(loc[-1]), "is not in the expected form")
    value = error.get("input")
    # Our own checks (value_error) name the value and the fix themselves.
    silent = error["type"] in ("missing", "extra_forbidden", "value_error") or isinstance(value, (dict, list)) \
        or _SECRET_KEYS.search(key)
    given = "" if silent else f" (got {shown(value)})"
    fix = _FIXES.get(error["type"])
    return f"{source}: {key}: {message}{given}" + (f": {fix}" if fix else "")


# --- addresses -----------------------------------------------------------------------------------------------------

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def check_address(value: str) -> str:
    """A 0x-prefixed 20-byte hex address; mixed case must be a correct EIP-55 checksum (a typo otherwise)."""
    if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
        raise ValueError("is not a 0x-prefixed 20-byte hex address (0x and 40 hex digits)")
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and to_checksum_address(value) != value:
        raise ValueError("has a bad EIP-55 checksum (a mistyped character?): copy the address again, "
                         "or write it in lowercase to skip the check")
    return value


Address = Annotated[str, AfterValidator(check_address)]


# --- ABIs ----------------------------------------------------------------------------------------------------------

_IDENTIFIER = r"[A-Za-z_$][A-Za-z0-9_$]*"
# An elementary or tuple type with any array suffixes: uint256, bytes32[], tuple[2][], address payable is not ABI.
_ABI_TYPE = r"(?:u?int[0-9]{0,3}|u?fixed[0-9x]{0,8}|address|bool|string|bytes[0-9]{0,2}|function|tuple)(?:\[[0-9]{0,10}\]){0,8}"


class AbiParam(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field("", max_length=256)
    type: str = Field(min_length=1, max_length=256)
    indexed: StrictBool = False
    components: list["AbiParam"] = Field(default_factory=list, max_length=256)


class EventParam(AbiParam):
    """An event field: decoded from logs, so its name and type must be exactly what the ABI format allows."""

    name: str = Field("", pattern=rf"^(?:{_IDENTIFIER})?$", max_length=256)
    type: str = Field(pattern=rf"^{_ABI_TYPE}$")
    components: list["EventParam"] = Field(default_factory=list, max_length=256)


class AbiEntry(BaseModel):
    """One ABI item (function, event, error, constructor, fallback, receive): only what the watchdog reads is
    checked, every other key is kept."""

    model_config = ConfigDict(extra="allow")
    type: str = Field("function", pattern=r"^(function|event|error|constructor|fallback|receive)$")
    name: str = Field("", max_length=256)
    inputs: list[AbiParam] = Field(default_factory=list, max_length=256)
    outputs: list[AbiParam] = Field(default_factory=list, max_length=256)
    anonymous: StrictBool = False


_ABI = TypeAdapter(list[AbiEntry])
_EVENT_INPUTS = TypeAdapter(list[EventParam])


def abi_problems(abi: Any, source: str) -> list[str]:
    """Problems of a JSON ABI (a list of items) as lines; none when the watchdog can read every item (events are
    checked closely, since their logs are decoded; other items only in their shape)."""
    try:
        entries = _ABI.validate_python(abi)
    except ValidationError as exc:
        return problem_lines(source, exc)
    problems = []
    for n, entry in enumerate(entries):
        if entry.type != "event":
            continue
        if not re.fullmatch(_IDENTIFIER, entry.name):
            problems.append(f"{source}: {n}.name: an event needs a name that is an identifier: fix it")
        try:
            _EVENT_INPUTS.validate_python(abi[n].get("inputs", []))
        except ValidationError as exc:
            problems += problem_lines(source, exc, (n, "inputs"))
    return problems


def read_capped(path: Path, limit: int, unreadable: Callable[[str], str], oversize: str) -> bytes:
    """A file's bytes, never more than `limit` read: a ConfigError line `unreadable(reason)` when it cannot be read,
    `oversize` when it holds more."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(unreadable(str(exc.strerror or exc))) from None
    if len(data) > limit:
        raise ConfigError(oversize)
    return data


def abi_of_json(data: Any, source: str) -> list[dict[str, Any]]:
    """The ABI in a parsed JSON file (a list, or an artifact with an `abi` list), every item checked; one ConfigError
    line per problem."""
    abi = data.get("abi") if isinstance(data, dict) else data
    if not isinstance(abi, list):
        raise ConfigError(f"{source}: (top level): not an ABI: write a JSON list of ABI items, or an artifact with an "
                          "`abi` list")
    problems = abi_problems(abi, source)
    if problems:
        raise ConfigError("\n".join(problems))
    return abi
