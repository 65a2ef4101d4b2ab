"""The layers hold in the imports: data flows one way (chain and store at the bottom, detection and the
pipeline above them, response and static analysis above those, the commands on top), and only the store
builds queries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module may import its own layer and the layers below; the exceptions are listed below.
LAYERS = [
    {"errors", "finding", "modules", "toolchain", "keys", "metrics", "redaction", "validation"},
    {"chain", "store"},
    {"manifest", "config"},
    {"detect", "rules", "pipeline"},
    {"respond", "scan", "manifests", "rules.slither", "forensics"},
    {"devnet", "scenarios", "daemon", "recovery", "stress"},
    {"drill"},
    {"cli", "ui", "__main__"},
]
# Stricter than the layer order: chain/ is pure I/O, the store knows only findings, and the pipeline drives
# any handler without knowing the detection engine.
ONLY = {
    "chain": {"chain", "errors", "redaction", "validation"},
    "store": {"store", "errors", "finding", "redaction"},
    "pipeline": {"pipeline", "chain", "store", "errors", "finding", "metrics"},
}


def component(module: str) -> str | None:
    """The layer component of a dotted module name inside the watchdog package (rules/ is watchdog.rules)."""
    parts = module.split(".")
    if parts[0] != "watchdog" or len(parts) == 1:
        return None
    if parts[1] == "rules" and len(parts) > 2 and parts[2] == "slither":
        return "rules.slither"
    return parts[1]


def rank(name: str) -> int:
    return next(n for n, layer in enumerate(LAYERS) if name in layer)


def sources() -> list[tuple[str, Path]]:
    """(module name, file) of every module of the package, rules/ included."""
    found = [("watchdog." + ".".join(p.relative_to(ROOT / "watchdog").with_suffix("").parts), p)
             for p in (ROOT / "watchdog").rglob("*.py")]
    found += [("watchdog.rules." + ".".join(p.relative_to(ROOT / "rules").with_suffix("").parts), p)
              for p in (ROOT / "rules").rglob("*.py")]
    return [(name.removesuffix(".__init__"), path) for name, path in found]


def imports(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """(imported module, imported names) for every import statement, at any depth, relative ones resolved."""
    out = []
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            name = ".".join(p for p in (base, node.module or "") if p)
            out.append((name, [alias.name for alias in node.names]))
    return out


def test_every_module_belongs_to_a_layer() -> None:
    known = set().union(*LAYERS)
    assert {component(name) for name, _ in sources()} - {None} <= known


@pytest.mark.parametrize(("module", "path"), sources(), ids=lambda value: value if isinstance(value, str) else "")
def test_lower_layers_never_import_higher_ones(module: str, path: Path) -> None:
    own = component(module)
    if own is None:
        return
    for imported, names in imports(path, module):
        # `from watchdog import x`: x is a module (a component) or a name of the package itself (its version)
        targets = [component(imported)] + [component(f"{imported}.{n}") for n in names
                                           if imported == "watchdog" and not n.startswith("__")]
        for target in filter(None, targets):
            if own in ONLY:
                assert target in ONLY[own], f"{module} ({own}) imports {imported} ({target}): {own}/ may import only {sorted(ONLY[own])}"
            assert rank(target) <= rank(own), f"{module} ({own}) imports {imported} ({target}), a higher layer"


def test_only_the_store_builds_queries() -> None:
    offenders = []
    for module, path in sources():
        if component(module) == "store":
            continue
        for imported, names in imports(path, module):
            if imported.split(".")[0] in ("sqlmodel", "sqlalchemy") and {"select", "update", "delete", "insert"} & set(names):
                offenders.append(f"{module} imports {', '.join(names)} from {imported}")
    assert not offenders, offenders
