"""Playbook conditions: rule patterns, severity, confidence, protocol, pending, count within a window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from watchdog.errors import ConfigError
from watchdog.config.response import Playbook, PlaybookAction
from watchdog.config import parse_settings
from watchdog.config.response import Condition
from watchdog.respond.playbooks import matches, triggered
from watchdog.store import FindingRecord, Store, utcnow


def record(n: int, **fields: object) -> FindingRecord:
    base = {"dedup_key": f"k{n}", "rule_id": "flash-loan.protocol", "title": "t", "severity": "high", "confidence": 0.9,
            "network": "devnet", "protocol": "perps", "tx_hash": f"0x{n:064x}"}
    return FindingRecord(**{**base, **fields})


@pytest.mark.parametrize("fields, expected", [
    ({}, True),
    ({"rule_id": "oracle-health.stale"}, False),
    ({"rule_id": "drain.block"}, True),
    ({"severity": "medium"}, False),
    ({"severity": "critical"}, True),
    ({"confidence": 0.5}, False),
    ({"protocol": "lending"}, False),
    ({"pending": True}, False),
])
def test_conditions(fields: dict, expected: bool) -> None:
    condition = Condition(rules=["flash-*", "drain*"], min_severity="high", min_confidence=0.8, protocols=["perps"], pending=False)
    assert matches(condition, record(1, **fields)) is expected


def test_count_within_the_window(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    playbook = Playbook(name="three", when=Condition(count=3, window_seconds=600), actions=[PlaybookAction(type="notify")])
    with store.session() as s:
        s.add(record(1, created_at=utcnow() - timedelta(seconds=3600)))  # outside the window
        s.add(record(2))
        s.add(record(3, severity="low"))  # does not match
        s.add(record(4, status="retracted"))  # no longer stands
    assert not triggered(store, playbook, record(5))
    with store.session() as s:
        s.add(record(5))
    assert triggered(store, playbook, record(6))
    assert not triggered(store, playbook.model_copy(update={"enabled": False}), record(6))


def test_bad_playbook_is_one_line_naming_the_key() -> None:
    raw = {"networks": {"main": {"chain_id": 1, "rpc_urls": ["http://127.0.0.1:1"]}},
           "playbooks": [{"name": "p", "when": {"min_severity": "catastrophic"}, "actions": [{"type": "pause"}]}]}
    with pytest.raises(ConfigError, match=r"playbooks\.0\.when\.min_severity"):
        parse_settings(raw)
