"""Response: incidents, playbooks, the pause executor, Safe proposals, notifications.

`Responder(config, store, rpc, manifest).handle(new, retracted)` is the daemon's findings sink.
"""

from watchdog.respond.config import (
    Condition, ExecutorSettings, NotifierConfig, Playbook, PlaybookAction, ResponseConfig, SafeServiceConfig, SignerConfig,
)
from watchdog.respond.executor import Executor, Outcome
from watchdog.respond.responder import Handled, Responder

__all__ = [
    "Condition", "Executor", "ExecutorSettings", "Handled", "NotifierConfig", "Outcome", "Playbook", "PlaybookAction",
    "Responder", "ResponseConfig", "SafeServiceConfig", "SignerConfig",
]
