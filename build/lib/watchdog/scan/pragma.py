"""Solidity version pragmas (`^0.8.0`, `>=0.7.0 <0.9.0`, `0.8.20 || ^0.8.24`) against installed compilers."""

from __future__ import annotations

import re

Version = tuple[int, int, int]

_COMPARATOR = re.compile(r"(\^|~|>=|<=|>|<|=)?\s*v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?")


def parse_version(text: str) -> Version:
    major, minor, patch = (text.split("+")[0].split("-")[0].split(".") + ["0", "0"])[:3]
    return int(major), int(minor), int(patch)


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
        alternative = re.sub(r"\s+-\s+", " - ", alternative.strip())
        if " - " in alternative:  # hyphen range: a - b
            low, high = (part.strip() for part in alternative.split(" - ", 1))
            if parse_version(low) <= version <= parse_version(high):
                return True
            continue
        comparators = list(_COMPARATOR.finditer(alternative))
        if comparators and all(
            _satisfies_comparator(version, m.group(1) or "", [m.group(2), m.group(3), m.group(4)]) for m in comparators
        ):
            return True
    return False


def choose(installed: list[str], pragmas: list[str]) -> list[str]:
    """Installed versions satisfying every pragma, newest first."""
    ok = [v for v in installed if all(satisfies(parse_version(v), p) for p in pragmas)]
    return sorted(ok, key=parse_version, reverse=True)
