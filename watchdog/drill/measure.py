"""What a drill measures, from what it recorded: detection, containment, funds; and the scoreboard of several.

Definitions (also in the README):
- detected: a finding at or above the pause level (high) delivered after the attack phase began;
- detect latency: from the moment the transaction the finding is about was mined (or sent, for a finding on a
  pending transaction) to the moment detection delivered it; for a finding about none of the drill's
  transactions (scheduled checks, block-level rules), from the last drill step mined before it;
- blocks to contain: pause block minus the block of the first attack transaction (0 when the pause landed
  first: pre-empted), on the network of that transaction;
- contained: a pause landed and no step where the attacker takes value succeeded after it (after the first pause
  on the step's network; on a network with no pause, after the detection);
- on a world of several networks: the networks where a pause landed (`paused_networks`) and, for each, its first
  pause and the blocks between the head at detection and that pause (`pauses_by_network`);
- funds: what the attack put at risk when its phase began (the demo vault's dUSD, the victims a Harbor scenario
  names), what left during the attack (lost), the rest (saved), in the world's quote asset.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from watchdog.finding import PAUSE_SEVERITY, Severity
from watchdog.drill.watch import NETWORK, Seen
from watchdog.scenarios import Step

PAUSE_LEVEL = PAUSE_SEVERITY  # what the drill counts as detection: what a default playbook pauses on


@dataclass(frozen=True)
class Pause:
    contract: str
    tx_hash: str
    block: int
    index: int
    trigger_rule: str | None = None
    network: str = NETWORK


@dataclass(frozen=True)
class ChainClock:
    """One network's head when the attack phase began, and the wall-clock time each block was mined at."""

    phase_block: int
    block_times: dict[int, float]


@dataclass
class Recording:
    """Everything a drill run recorded, for measuring. `phase_block` and `block_times` are those of the world's
    (first) network; `chains` has every network's of a world on several."""

    scenario: str
    benign: bool
    respond: bool
    phase_start: float  # wall clock when the attack phase began
    phase_block: int  # the head when it began
    steps: list[Step] = field(default_factory=list)
    findings: list[Seen] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    would_pause: list[str] = field(default_factory=list)  # dry-run pauses (no-response mode)
    funds_before: int = 0
    funds_after: int = 0
    block_times: dict[int, float] = field(default_factory=dict)
    chains: dict[str, ChainClock] = field(default_factory=dict)

    def clock(self, network: str) -> ChainClock:
        return self.chains.get(network) or ChainClock(self.phase_block, self.block_times)


def _head_at(rec: Recording, at: float, network: str = NETWORK) -> int:
    clock = rec.clock(network)
    mined = [n for n, t in clock.block_times.items() if t <= at]
    return max(mined, default=clock.phase_block)


def measure(rec: Recording, unit: str = "dUSD", decimals: int = 18) -> dict[str, Any]:
    attack = [s for s in rec.steps if s.attack and s.block is not None]
    first = attack[0] if attack else None
    exploit = next((s for s in attack if not s.prepare), None)  # the first step past preparation
    detections = sorted((f for f in rec.findings if f.severity >= PAUSE_LEVEL and f.at >= rec.phase_start), key=lambda f: f.at)
    hit = detections[0] if detections else None
    latency = detect_block = None
    if hit is not None:
        by_tx = next((s for s in rec.steps if s.tx_hash and hit.tx_hash and s.tx_hash.lower() == hit.tx_hash.lower()), None)
        if by_tx is not None:
            reference = by_tx.sent_at if hit.pending else (by_tx.mined_at or by_tx.sent_at)
        else:  # a finding about no step's transaction: from the last change on chain before it
            before = [s.mined_at for s in rec.steps if s.mined_at is not None and s.mined_at <= hit.at]
            reference = max(before) if before else rec.phase_start
        latency = max(0, round((hit.at - reference) * 1000))
        detect_block = hit.block if hit.block is not None else _head_at(rec, hit.at, hit.network)
    first_pause = {}  # by network: its first pause in chain order
    for p in sorted(rec.pauses, key=lambda p: (p.block, p.index)):
        first_pause.setdefault(p.network, p)
    home = first.network if first is not None else NETWORK
    pause = first_pause.get(home) or (min(rec.pauses, key=lambda p: (p.block, p.index)) if rec.pauses else None)
    false_pauses = len(rec.pauses) if rec.benign else sum(1 for p in rec.pauses if p.block <= rec.clock(p.network).phase_block)
    preempted = blocks = None
    contained = False
    if pause is not None and first is not None:
        first_pos = (first.block, first.index if first.index is not None else -1)
        preempted = (pause.block, pause.index) < first_pos
        blocks = max(0, pause.block - first.block) if first.block is not None else None

        def after_containment(step: Step) -> bool:
            there = first_pause.get(step.network)
            if there is None:  # nothing paused on its network: anything after the detection got through
                return hit is not None and (step.mined_at or 0) > hit.at
            return (step.block, step.index or 0) > (there.block, there.index)

        contained = not any(s.succeeded and s.payoff and after_containment(s) for s in rec.steps)
    by_network = {}
    for network, p in sorted(first_pause.items()):
        at_detection = _head_at(rec, hit.at, network) if hit is not None else None
        by_network[network] = {"block": p.block, "contract": p.contract,
                               "blocks_after_detection": None if at_detection is None else max(0, p.block - at_detection)}
    payoffs = [s for s in rec.steps if s.payoff]
    lost = max(0, rec.funds_before - rec.funds_after)
    return {
        "scenario": rec.scenario,
        "detected": hit is not None,
        "first_rule": hit.rule_id if hit else None,
        "attack_block": first.block if first else None,
        "exploit_block": exploit.block if exploit else None,
        "detect_block": detect_block,
        "detect_latency_ms": latency,
        "paused": pause is not None,
        "pause_block": pause.block if pause else None,
        "blocks_to_contain": blocks,
        "preempted": preempted,
        "attack_succeeded": any(s.succeeded for s in payoffs) if payoffs else None,
        "funds_at_risk": round(rec.funds_before / 10**decimals, 2),
        "funds_lost": round(lost / 10**decimals, 2),
        "funds_saved": round((rec.funds_before - lost) / 10**decimals, 2),
        "contained": contained,
        "benign": rec.benign,
        "response": rec.respond,
        "detected_pending": hit.pending if hit else None,
        "first_finding": ({"rule": hit.rule_id, "title": hit.title, "severity": hit.severity.value, "block": detect_block,
                           "tx": hit.tx_hash, "pending": hit.pending} if hit else None),
        "rules": sorted({f.rule_id for f in detections}),
        "false_pauses": false_pauses,
        "critical_findings": sum(1 for f in rec.findings if f.severity >= Severity.CRITICAL),
        "high_findings": sum(1 for f in rec.findings if f.severity >= Severity.HIGH),
        "findings": len(rec.findings),
        "pauses": [{"contract": p.contract, "tx": p.tx_hash, "block": p.block, "rule": p.trigger_rule,
                    "network": p.network} for p in rec.pauses],
        "paused_networks": sorted(first_pause),
        "pauses_by_network": by_network,
        "would_pause": rec.would_pause,
        "attack_txs": [s.as_dict() for s in rec.steps if s.tx_hash],
        "unit": unit,
    }


def scoreboard(results: list[dict[str, Any]]) -> dict[str, Any]:
    attacks = [r for r in results if not r["benign"]]
    contained = [r for r in attacks if r["contained"]]
    blocks = [r["blocks_to_contain"] for r in contained if r["blocks_to_contain"] is not None]
    share = (lambda n: round(100 * n / len(attacks), 1)) if attacks else (lambda n: None)
    return {
        "scenarios": len(results),
        "attacks": len(attacks),
        "detected_pct": share(sum(1 for r in attacks if r["detected"])),
        "contained_pct": share(len(contained)),
        "median_blocks_to_contain": statistics.median(blocks) if blocks else None,
        "false_pauses": sum(r["false_pauses"] for r in results),
        "funds_at_risk": round(sum(r["funds_at_risk"] for r in attacks), 2),
        "funds_lost": round(sum(r["funds_lost"] for r in attacks), 2),
    }


def shown(value: Any) -> str:
    """A measurement as a table shows it: yes / no / - for unknown."""
    return "-" if value is None else ("yes" if value is True else "no" if value is False else str(value))


def detection_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """The rows every view of one drill starts with: where the attack began and how it was found."""
    first = r["first_finding"]
    found = (f"{first['rule']} ({first['severity']}){' in the mempool' if first['pending'] else ''}: {first['title']}"
             if first else None)
    latency = f"{r['detect_latency_ms']} ms" if r["detect_latency_ms"] is not None else None
    return [(name, shown(value)) for name, value in (
        ("attack block", r["attack_block"]), ("first exploit block (past preparation)", r.get("exploit_block")),
        ("detected", r["detected"]), ("first finding", found), ("detection block", r["detect_block"]),
        ("detection latency", latency))]
