"""Response: incidents, playbooks, the pause executor, Safe proposals, notifications.

`Responder(config, store, rpc, manifest).handle(new, retracted)` is the daemon's findings sink; its config is
`Settings.response()` (models in watchdog.config.response).
"""

from watchdog.respond.executor import Executor, Outcome
from watchdog.respond.responder import Handled, Responder

__all__ = ["Executor", "Handled", "Outcome", "Responder"]
