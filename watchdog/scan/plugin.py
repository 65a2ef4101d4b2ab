"""slither plugin entry point (group `slither_analyzer.plugin`): watchdog's detectors for plain slither.

The detectors live in rules/slither/, one per file, beside the other rule modules; rules/ is not a
Python package, so they are loaded by path (which works for the editable install the project uses).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

from slither.detectors.abstract_detector import AbstractDetector

from watchdog.toolchain import PROJECT_ROOT

DETECTORS_DIR = PROJECT_ROOT / "rules" / "slither"


def _load(path: Path) -> list[type[AbstractDetector]]:
    name = f"watchdog_rules_slither.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, AbstractDetector) and obj.__module__ == name
    ]


@cache
def detectors() -> tuple[type[AbstractDetector], ...]:
    """watchdog's detector classes, sorted by argument."""
    if not DETECTORS_DIR.is_dir():
        return ()
    found = [d for path in sorted(DETECTORS_DIR.glob("*.py")) if not path.name.startswith("_") for d in _load(path)]
    return tuple(sorted(found, key=lambda d: d.ARGUMENT))


def make_plugin() -> tuple[list[type], list[type]]:
    return list(detectors()), []
