"""Find rule classes in `.py` files of a directory (built-in `rules/` and the user's rule_dirs alike)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

from watchdog.detect.rule import Rule
from watchdog.errors import ConfigError
from watchdog.toolchain import PROJECT_ROOT

BUILTIN_RULES = PROJECT_ROOT / "rules"


def load_rule_file(path: Path) -> list[type[Rule]]:
    """Rule subclasses defined in one file (imported ones are skipped, so a base class is not run twice)."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"watchdog_rules.{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"rule file {path} cannot be loaded: is it a Python source file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(f"rule file {path} failed to import: {type(exc).__name__}: {exc}") from exc
    found = []
    for obj in vars(module).values():
        if inspect.isclass(obj) and issubclass(obj, Rule) and obj is not Rule and obj.__module__ == name:
            if not obj.id:
                raise ConfigError(f"rule class {obj.__name__} in {path} has no `id`: set a class attribute id = \"my-rule\"")
            found.append(obj)
    return found


def load_rule_dir(directory: Path) -> list[type[Rule]]:
    directory = Path(directory)
    if not directory.is_dir():
        if directory == BUILTIN_RULES:
            raise ConfigError(f"the built-in rules are missing ({directory}): run watchdog from its checkout")
        raise ConfigError(f"rule directory {directory} does not exist: fix `rule_dirs` in the config")
    classes: list[type[Rule]] = []
    for path in sorted(directory.glob("*.py")):
        if not path.name.startswith("_"):
            classes.extend(load_rule_file(path))
    return classes


def discover(extra_dirs: list[Path] | tuple[Path, ...] = (), builtin: bool = True) -> dict[str, type[Rule]]:
    """Rule classes by id; a user rule may not silently shadow another rule's id."""
    rules: dict[str, type[Rule]] = {}
    dirs = ([BUILTIN_RULES] if builtin else []) + [Path(d) for d in extra_dirs]
    for directory in dirs:
        for cls in load_rule_dir(directory):
            if cls.id in rules:
                raise ConfigError(f"rule id {cls.id!r} is defined twice (second time in {directory}): rename one")
            rules[cls.id] = cls
    return rules
