"""Import a Python source file by path (the user's rule files, a custom handler), under a unique module name."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from watchdog.errors import ConfigError


def load_file(path: Path, namespace: str, what: str = "file") -> ModuleType:
    """The module of `path`, registered as `namespace.<stem>_<hash of the path>` so that two files with the same
    name never replace each other. A file that fails to import is one ConfigError naming `what` and the cause."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist: fix the path")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"{namespace}.{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{what} {path} cannot be loaded: is it a Python source file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(f"{what} {path} failed to import: {type(exc).__name__}: {exc}") from exc
    return module
