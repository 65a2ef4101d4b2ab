"""Find rule classes: the built-in ones in the `watchdog.rules` package, the user's in `.py` files of rule_dirs."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Iterable

from watchdog.detect.rule import Rule, validate_class
from watchdog.errors import ConfigError
from watchdog.modules import load_file

BUILTIN_PACKAGE = "watchdog.rules"


def rule_classes(module: ModuleType, where: str) -> list[type[Rule]]:
    """Rule subclasses defined in `module` (imported ones are skipped, so a base class is not run twice)."""
    found = []
    for obj in vars(module).values():
        if inspect.isclass(obj) and issubclass(obj, Rule) and obj is not Rule and obj.__module__ == module.__name__:
            validate_class(obj, where)
            found.append(obj)
    return found


def builtin_rules() -> list[type[Rule]]:
    """The rule classes shipped with watchdog (the modules of `watchdog.rules`, slither detectors aside)."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    classes: list[type[Rule]] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.ispkg and not info.name.startswith("_"):
            module = importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")
            classes.extend(rule_classes(module, module.__file__ or module.__name__))
    return classes


def load_rule_file(path: Path) -> list[type[Rule]]:
    return rule_classes(load_file(path, "watchdog_user_rules", "rule file"), str(path))


def load_rule_dir(directory: Path) -> list[type[Rule]]:
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"rule directory {directory} does not exist: fix `rule_dirs` in the config")
    classes: list[type[Rule]] = []
    for path in sorted(directory.glob("*.py")):
        if not path.name.startswith("_"):
            classes.extend(load_rule_file(path))
    return classes


def discover(extra_dirs: Iterable[Path] = (), builtin: bool = True, classes: Iterable[type[Rule]] = ()) -> dict[str, type[Rule]]:
    """Rule classes by id (built-in, of `extra_dirs`, and `classes` given directly); a rule may not silently
    shadow another rule's id."""
    rules: dict[str, type[Rule]] = {}
    sources: list[tuple[str, list[type[Rule]]]] = [(BUILTIN_PACKAGE, builtin_rules())] if builtin else []
    sources += [(str(d), load_rule_dir(Path(d))) for d in extra_dirs]
    given = list(classes)
    for cls in given:
        validate_class(cls, cls.__module__)
    sources.append(("the given rule classes", given))
    for where, classes in sources:
        for cls in classes:
            if cls.id in rules:
                raise ConfigError(f"rule id {cls.id!r} is defined twice (second time in {where}): rename one")
            rules[cls.id] = cls
    return rules
