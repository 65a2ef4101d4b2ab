"""`watchdog run`: listeners + detection + sinks (the responder), scheduled jobs, metrics and health."""

from watchdog.daemon.core import Daemon
from watchdog.daemon.handlers import HandlerFactory, load_factory, rule_engine
from watchdog.daemon.logs import setup_logging

__all__ = ["Daemon", "HandlerFactory", "load_factory", "rule_engine", "setup_logging"]
