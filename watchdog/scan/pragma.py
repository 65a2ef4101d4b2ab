"""Solidity version pragmas (`^0.8.0`, `>=0.7.0 <0.9.0`, `0.8.20 || ^0.8.24`) against installed compilers."""

from __future__ import annotations

import re

Version = tuple[int, int, int]

_COMPARATOR = re.compile(r"(\^|~|>=|<=|>|<|=)?v?(\d{1,9})(?:\.(\d{1,9}|x|\*))?(?:\.(\d{1,9}|x|\*))?")
_OPERATOR_SPACE = re.compile(r"(\^|~|>=|<=|>|<|=)\s+")  # "^ 0.8.0" is "^0.8.0"
_VERSION = re.compile(r"v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?")


def parse_version(text: str) -> Version:
    major, minor, patch = (text.split("+")[0].split("-")[0].split(".") + ["0", "0"])[:3]
    return int(major), int(minor), int(patch)


def _bound(text: str) -> Version | None:
    """One end of a hyphen range (`0.8.0` in `0.8.0 - 0.8.20`); None when it is not a version."""
    match = _VERSION.fullmatch(text)
    return None if match is None else tuple(int(part or 0) for part in match.groups())  # type: ignore[return-value]


def _satisfies_comparator(version: Version, op: str, parts: list[str | None]) -> bool:
    wildcard = [p is None or p in ("x", "*") for p in parts]
    nums = [0 if w else int(p) for p, w in zip(parts, wildcard)]  # type: ignore[arg-type]
    target = (nums[0], nums[1], nums[2])
    if op in ("", "=") and any(wildcard):  # 0.8 or 0.8.x: any patch of that minor
        depth = wildcard.index(True)
        return version[:depth] == target[:depth]
    if op == "^":
        if target[0] > 0:
            upper: Version = (target[0] + 1, 0, 0)
        elif target[1] > 0 or wildcard[2]:
            upper = (0, target[1] + 1, 0)
        else:
            upper = (0, 0, target[2] + 1)
        return target <= version < upper
    if op == "~":
        upper = (target[0] + 1, 0, 0) if wildcard[1] else (target[0], target[1] + 1, 0)
        return target <= version < upper
    return {
        "": version == target,
        "=": version == target,
        ">": version > target,
        ">=": version >= target,
        "<": version < target,
        "<=": version <= target,
    }[op]


def satisfies(version: Version, pragma: str) -> bool:
    """Whether `version` satisfies one pragma expression (the text between `pragma solidity` and `;`)."""
    for alternative in pragma.split("||"):
        words = _OPERATOR_SPACE.sub(r"\1", " ".join(alternative.split())).split(" ")
        if len(words) == 3 and words[1] == "-":  # hyphen range: a - b
            low, high = _bound(words[0]), _bound(words[2])
            if low is not None and high is not None and low <= version <= high:
                return True
            continue
        comparators = [_COMPARATOR.fullmatch(word) for word in words if word]
        if comparators and all(
            m is not None and _satisfies_comparator(version, m.group(1) or "", [m.group(2), m.group(3), m.group(4)])
            for m in comparators
        ):
            return True
    return False


def choose(installed: list[str], pragmas: list[str]) -> list[str]:
    """Installed versions satisfying every pragma, newest first."""
    ok = [v for v in installed if all(satisfies(parse_version(v), p) for p in pragmas)]
    return sorted(ok, key=parse_version, reverse=True)
