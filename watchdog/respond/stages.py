"""Attack stages: the findings of one attacker cluster chained funding -> preparation -> exploitation ->
laundering. A finding's stage is its `labels["stage"]` when a rule sets one (the suspicious-deployment rule says
"preparation", the flash-loan rule "exploitation"), else the usual stage of its rule's family."""

from __future__ import annotations

from typing import Any

STAGES = ("funding", "preparation", "exploitation", "laundering")
BY_FAMILY = {"suspicious-deployment": "preparation", "privileged-change": "preparation", "flash-loan": "exploitation",
             "price-manipulation": "exploitation", "drain": "exploitation", "oracle-health": "exploitation"}


def stage_of(finding: Any) -> str | None:
    labelled = (finding.labels or {}).get("stage")
    if labelled in STAGES:
        return labelled
    if (finding.labels or {}).get("expected") or (finding.evidence or {}).get("expected"):
        return None  # a change governance announced is no attack stage
    return BY_FAMILY.get(finding.rule_id.split(".")[0])


def timeline(findings: list[Any]) -> list[dict[str, Any]]:
    """Each stage seen, in the attack's order: its first block, its rules and how many findings."""
    seen: dict[str, dict[str, Any]] = {}
    for f in findings:
        stage = stage_of(f)
        if stage is None or getattr(f, "status", "active") != "active":
            continue
        row = seen.setdefault(stage, {"stage": stage, "first_block": f.block_number, "rules": [], "findings": 0})
        if f.block_number is not None and (row["first_block"] is None or f.block_number < row["first_block"]):
            row["first_block"] = f.block_number
        if f.rule_id not in row["rules"]:
            row["rules"].append(f.rule_id)
        row["findings"] += 1
    return [seen[s] for s in STAGES if s in seen]
