"""slither results -> ScanFinding fields (in the worker process, which must stay light: no watchdog.detect)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

IMPACT_TO_SEVERITY = {"High": "high", "Medium": "medium", "Low": "low", "Informational": "info", "Optimization": "info"}


def _location(element: dict[str, Any]) -> dict[str, Any]:
    mapping = element.get("source_mapping") or {}
    lines = mapping.get("lines") or [0]
    return {
        "file": mapping.get("filename_short") or mapping.get("filename_used") or "",
        "start_line": lines[0],
        "end_line": lines[-1],
        "start_column": mapping.get("starting_column") or 1,
        "end_column": mapping.get("ending_column") or 1,
    }


def _names(element: dict[str, Any]) -> tuple[str | None, str | None]:
    """(contract, function) named by a slither result element."""
    kind, name = element.get("type"), element.get("name")
    parent = (element.get("type_specific_fields") or {}).get("parent") or {}
    if kind == "contract":
        return name, None
    if kind == "function":
        return parent.get("name"), name
    grand = (parent.get("type_specific_fields") or {}).get("parent") or {}
    if parent.get("type") == "function":
        return grand.get("name"), parent.get("name")
    return parent.get("name") if parent.get("type") == "contract" else None, None


def from_slither(result: dict[str, Any], helps: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """One slither result as the fields of a ScanFinding."""
    elements = result.get("elements") or [{}]
    primary = _location(elements[0])
    contract, function = _names(elements[0])
    # Line numbers change with unrelated edits: the fingerprint keys on what is flagged, not where.
    description = re.sub(r"#L?\d+(-\d+)?", "", result.get("description", ""))
    identity = "|".join([result["check"], primary["file"], contract or "", function or "", description.strip()])
    help_text, wiki = helps.get(result["check"], ("", ""))
    return dict(
        detector=result["check"],
        severity=IMPACT_TO_SEVERITY.get(result.get("impact", ""), "info"),
        confidence=str(result.get("confidence", "medium")).lower(),
        description=result.get("description", "").strip(),
        contract=contract,
        function=function,
        fingerprint=hashlib.sha256(identity.encode()).hexdigest()[:24],
        help=help_text,
        wiki=wiki,
        extra_locations=[_location(e) for e in elements[1:] if e.get("source_mapping")],
        **primary,
    )
