"""slither plugin entry point (group `slither_analyzer.plugin`): watchdog's detectors for plain slither.

The detectors live in the top-level rules/slither/ folder, one per module, beside the other rule modules;
it is installed as the `watchdog.rules.slither` package.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from slither.detectors.abstract_detector import AbstractDetector

DETECTORS_PACKAGE = "watchdog.rules.slither"


def detector_files() -> list[Path]:
    """The detectors' source files (their bytes are part of the scan cache key)."""
    package = importlib.import_module(DETECTORS_PACKAGE)
    return sorted(p for folder in package.__path__ for p in Path(folder).glob("*.py") if not p.name.startswith("_"))


@cache
def detectors() -> tuple[type[AbstractDetector], ...]:
    """watchdog's detector classes, sorted by argument."""
    package = importlib.import_module(DETECTORS_PACKAGE)
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{DETECTORS_PACKAGE}.{info.name}")
        found += [obj for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, AbstractDetector) and obj.__module__ == module.__name__]
    return tuple(sorted(found, key=lambda d: d.ARGUMENT))


def make_plugin() -> tuple[list[type], list[type]]:
    return list(detectors()), []
