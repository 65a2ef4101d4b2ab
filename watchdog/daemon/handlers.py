"""Which detection handler the daemon drives: the rule engine by default, or a user factory.

A factory is called once per network as `factory(settings, network, manifest, store)` and returns an
object with on_block / on_pending / on_schedule / watched_topics (watchdog.pipeline.Handler).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from watchdog.pipeline.handler import Handler
from watchdog.config import Settings
from watchdog.errors import ConfigError
from watchdog.manifest import Manifest
from watchdog.modules import load_file
from watchdog.store import Store

HandlerFactory = Callable[[Settings, str, Manifest, Store], Handler]


def rule_engine(settings: Settings, network: str, manifest: Manifest, store: Store) -> Handler:
    """The built-in rules (and `rules.rule_dirs`) configured by `[rules.<id>]` tables."""
    from watchdog.detect import Engine

    others = {net.chain_id: net.rpc_urls[0] for name, net in settings.networks.items() if name != network}
    return Engine(network, manifest, store, rules=settings.rules.settings(),
                  rule_dirs=[settings.path(d) for d in settings.rules.rule_dirs], allowlist=settings.rules.allowlist,
                  chains=others)


def load_factory(spec: str) -> HandlerFactory:
    """`package.module:name` or `path/to/file.py:name`."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise ConfigError(f"--handler {spec!r}: write it as module:function or path/to/file.py:function")
    if target.endswith(".py"):
        module = load_file(Path(target), "watchdog_handlers", f"--handler {spec!r}: file")
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise ConfigError(f"--handler {spec!r} cannot be imported: {type(exc).__name__}: {exc}") from exc
    factory: Any = getattr(module, name, None)
    if not callable(factory):
        raise ConfigError(f"--handler {spec!r}: {target} has no function {name!r}")
    return factory
