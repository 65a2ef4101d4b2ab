"""Detection: the engine runs the rule modules of `rules/` (and the user's rule directories) on chain events."""

from watchdog.detect.abi import EventSpec, selector, topic
from watchdog.detect.context import Call, Context, Event, PricePath, Transfer
from watchdog.detect.engine import Engine, RuleStats
from watchdog.detect.reads import ChainReads, FeedRound
from watchdog.finding import PAUSE_SEVERITY, Finding, Severity
from watchdog.detect.registry import ProtocolRegistry, Watched
from watchdog.detect.rule import Check, Rule, Trigger

__all__ = [
    "PAUSE_SEVERITY", "Call", "ChainReads", "Check", "Context", "Engine", "Event", "EventSpec", "FeedRound", "Finding",
    "PricePath", "ProtocolRegistry", "Rule", "RuleStats", "Severity", "Transfer", "Trigger", "Watched", "selector",
    "topic",
]
