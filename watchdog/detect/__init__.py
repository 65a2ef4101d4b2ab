"""Detection: the engine runs the rule modules of `rules/` (and the user's rule directories) on chain events."""

from watchdog.detect.abi import EventSpec, selector, topic
from watchdog.detect.context import Context
from watchdog.detect.engine import Engine, RuleStats
from watchdog.finding import PAUSE_SEVERITY, Finding, Severity
from watchdog.detect.registry import ProtocolRegistry, Watched
from watchdog.detect.rule import Rule, Trigger

__all__ = [
    "PAUSE_SEVERITY", "Context", "Engine", "EventSpec", "Finding", "ProtocolRegistry", "Rule", "RuleStats",
    "Severity", "Trigger", "Watched", "selector", "topic",
]
