"""Find the Solidity sources of a scan target (file, folder, Foundry or Hardhat project), resolve their
imports in Python (loop-safe, size-bounded) and group them by the compiler version their pragmas allow.

Resolving imports here rather than in the compiler lets a scan hash every byte it depends on (the cache
key), reject hostile input early with one clear line, and compile each group with all content inline.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from watchdog import toolchain
from watchdog.errors import WatchdogError
from watchdog.scan import pragma

MAX_SOURCE_BYTES = 8 * 1024 * 1024  # all sources of one target together
MAX_FILES = 4000
SKIP_DIRS = {"node_modules", "out", "cache", "artifacts", "broadcast", ".git", "typechain-types", "crytic-export"}
HARDHAT_CONFIGS = ("hardhat.config.js", "hardhat.config.ts", "hardhat.config.cjs", "hardhat.config.mjs")

# One pass over a source finds its import and pragma directives. Each alternative either fails on its first
# character or consumes what it matched (an unclosed comment or string runs to the end of its line or of the
# file), so the scan is linear in the size of the source whatever it holds: no backtracking over blank lines.
_TOKENS = re.compile(r"""//[^\n]*|/\*(?:[^*]|\*(?!/))*(?:\*/)?|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|;|\b(?:import|pragma)\b""")


def strip_comments(text: str) -> str:
    """The source without its comments (their line breaks kept, so lines still count), in one linear pass."""
    def keep(match: re.Match[str]) -> str:
        token = match.group(0)
        return "\n" * token.count("\n") if token.startswith(("//", "/*")) else token
    return _TOKENS.sub(keep, text)


class ScanInputError(WatchdogError):
    """The Solidity input cannot be scanned (missing import, no matching compiler, too large...)."""


@dataclass(slots=True)
class SourceFile:
    unit: str  # source unit name, as the compiler sees it
    path: Path  # where it lives on disk
    content: str
    imports: list[str] = field(default_factory=list)  # unit names
    pragmas: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CompileGroup:
    version: str
    targets: list[str]  # unit names scanned (their findings are reported)
    units: list[str]  # targets plus everything they import

    def standard_json(self, sources: dict[str, SourceFile], remappings: list[str]) -> dict:
        return {
            "language": "Solidity",
            "sources": {unit: {"content": sources[unit].content} for unit in self.units},
            "settings": {
                "remappings": remappings,
                # The AST is all the analysis needs: skipping code generation makes compiling much faster.
                "outputSelection": {"*": {"*": ["abi"], "": ["ast"]}},
            },
        }

    def digest(self, sources: dict[str, SourceFile]) -> str:
        h = hashlib.sha256(self.version.encode())
        for unit in sorted(self.units):
            h.update(b"\0" + unit.encode() + b"\0" + hashlib.sha256(sources[unit].content.encode()).digest())
        h.update(b"\0targets\0" + "\0".join(sorted(self.targets)).encode())
        return h.hexdigest()


@dataclass(slots=True)
class SourceSet:
    root: Path
    kind: str  # file | folder | foundry | hardhat
    remappings: list[str]
    sources: dict[str, SourceFile]
    targets: list[str]
    groups: list[CompileGroup]


def _find_project_root(start: Path) -> tuple[Path, str] | None:
    for folder in [start, *start.parents]:
        if (folder / "foundry.toml").is_file():
            return folder, "foundry"
        if any((folder / name).is_file() for name in HARDHAT_CONFIGS):
            return folder, "hardhat"
    return None


def _foundry_config(root: Path) -> tuple[str, list[str], list[str]]:
    """(src folder, library folders, remappings) from foundry.toml and remappings.txt."""
    config = root / "foundry.toml"
    try:
        profile = tomllib.loads(_small_text(config)).get("profile", {}).get("default", {})
    except (tomllib.TOMLDecodeError, RecursionError, AttributeError) as exc:
        raise ScanInputError(f"{config} is not a valid Foundry configuration ({exc}): fix the file") from None
    remappings = _strings(profile, "remappings", [], config)
    txt = root / "remappings.txt"
    if txt.is_file():
        remappings += [line.strip() for line in _small_text(txt).splitlines() if line.strip() and not line.startswith("#")]
    libs = _strings(profile, "libs", ["lib"], config)
    src = profile.get("src", "src")
    if not isinstance(src, str):
        raise ScanInputError(f"{config}: profile.default.src must be a folder name: fix the file")
    return src, libs, remappings + _auto_remappings(root, libs, remappings)


def _strings(table: dict, key: str, default: list[str], source: Path) -> list[str]:
    value = table.get(key, default)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ScanInputError(f"{source}: profile.default.{key} must be a list of strings: fix the file")
    return list(value)


def _small_text(path: Path, limit: int = 1024 * 1024) -> str:
    """A project's configuration file, as text (at most `limit` bytes are read)."""
    try:
        with path.open("rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace")
    except OSError as exc:
        raise ScanInputError(f"{path} cannot be read ({exc.strerror or exc}): fix or remove it") from None


def _auto_remappings(root: Path, libs: list[str], declared: list[str]) -> list[str]:
    """What forge infers for git-submodule libraries: `name/=lib/name/src/` (or `lib/name/` without src)."""
    taken = {r.split(":", 1)[-1].split("=", 1)[0] for r in declared}
    inferred = []
    for lib in libs:
        folder = root / lib
        if not folder.is_dir() or lib.rstrip("/").endswith("node_modules"):
            continue  # node_modules packages are found by their own names
        for child in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            prefix = f"{child.name}/"
            if prefix not in taken:
                target = child / "src" if (child / "src").is_dir() else child
                inferred.append(f"{prefix}={target.relative_to(root).as_posix()}/")
    return inferred


def _walk_sol(folder: Path) -> list[Path]:
    """.sol files under `folder`, pruning dependency and build folders and never following symlinked folders
    (so a link loop or a huge node_modules costs nothing)."""
    found: list[Path] = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        found += [Path(current) / name for name in sorted(files) if name.endswith(".sol")]
        if len(found) > MAX_FILES:
            raise ScanInputError(f"{folder} holds more than {MAX_FILES} Solidity files: scan a sub-folder")
    return sorted(found)


class _Resolver:
    """Maps import paths to source unit names (solc's rules: relative to the importer, then remappings)
    and unit names to files (base path, then include paths)."""

    def __init__(self, root: Path, include: list[Path], remappings: list[str]):
        self.root = root
        self.include = [p for p in dict.fromkeys([root, *include]) if p.is_dir()]
        self.remappings = sorted(
            (r.split(":", 1)[-1].split("=", 1) for r in remappings if "=" in r), key=lambda pair: -len(pair[0])
        )

    def unit_name(self, importer: str, path: str) -> str:
        if path.startswith(("./", "../")):
            return posixpath.normpath(posixpath.join(posixpath.dirname(importer), path))
        for prefix, target in self.remappings:
            if path.startswith(prefix):
                return target + path[len(prefix) :]
        return path

    def locate(self, unit: str) -> Path | None:
        for base in self.include:
            candidate = _resolved(base / unit)
            if candidate.is_file():
                return candidate
        return None


def _read(path: Path, budget: list[int], limit: int) -> str:
    try:
        with path.open("rb") as handle:  # never more than the budget left, whatever the file claims to be
            data = handle.read(max(budget[0], 0) + 1)
    except OSError as exc:
        raise ScanInputError(f"{path} cannot be read ({exc.strerror or exc}): fix or remove it") from None
    budget[0] -= len(data)
    if budget[0] < 0:
        raise ScanInputError(
            f"sources exceed {limit / (1024 * 1024):g} MiB (at {path.name}): scan fewer files or raise --max-source-mb"
        )
    return data.decode("utf-8", errors="replace")


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise ScanInputError(f"{path} is a symbolic link loop: fix or remove the link") from None


def load(target: Path, *, max_source_bytes: int = MAX_SOURCE_BYTES) -> SourceSet:
    """Discover, read and group the sources of `target`."""
    target = _resolved(target)
    if not target.exists():
        raise ScanInputError(f"{target} does not exist: give a .sol file, a folder or a Foundry/Hardhat project")
    start = target if target.is_dir() else target.parent
    project = _find_project_root(start)
    remappings: list[str] = []
    include: list[Path] = []
    if project:
        root, kind = project
        if kind == "foundry":
            src, libs, remappings = _foundry_config(root)
            include = [root / lib for lib in libs]
            scan_from = root / src if target == root else target
        else:
            scan_from = root / "contracts" if target == root else target
        include.append(root / "node_modules")
    else:
        root, kind = start, "folder" if target.is_dir() else "file"
        scan_from = target
        include.append(root / "node_modules")  # a Truffle or plain npm project keeps its libraries there
    try:
        include.append(toolchain.node_modules())  # the toolchain's libraries (OpenZeppelin...) as a last resort
    except WatchdogError:
        pass
    if scan_from.is_file():
        if scan_from.suffix != ".sol":
            raise ScanInputError(f"{scan_from.name} is not a Solidity file (.sol)")
        files = [scan_from]
    else:
        files = _walk_sol(scan_from)
    if not files:
        raise ScanInputError(f"no Solidity files under {scan_from}: give a .sol file or a folder holding some")

    resolver = _Resolver(root, include, remappings)
    budget = [max_source_bytes]
    sources: dict[str, SourceFile] = {}
    targets = [posixpath.normpath(f.relative_to(root).as_posix()) if f.is_relative_to(root) else f.as_posix() for f in files]
    queue = [(unit, path) for unit, path in zip(targets, files)]
    while queue:  # `sources` doubles as the visited set, so import loops terminate
        unit, path = queue.pop()
        if unit in sources:
            continue
        content = _read(path, budget, max_source_bytes)
        imports, pragmas = directives(content)
        entry = SourceFile(unit, path, content, pragmas=pragmas)
        sources[unit] = entry
        for path_text in imports:
            imported = resolver.unit_name(unit, path_text)
            entry.imports.append(imported)
            if imported in sources:
                continue
            located = resolver.locate(imported)
            if located is None:
                raise ScanInputError(
                    f"import \"{path_text}\" in {unit} not found under {root} or its library folders: "
                    "install the dependency or add a remapping"
                )
            queue.append((imported, located))
    return SourceSet(root, kind, remappings, sources, targets, _group(sources, targets))


def directives(content: str) -> tuple[list[str], list[str]]:
    """(import paths, `pragma solidity` expressions) of a source, comments and strings skipped. Both directives
    only exist at the top level and end at the next `;`, so no parsing of the rest is needed."""
    imports: list[str] = []
    pragmas: list[str] = []
    current: str | None = None  # the directive being read: "import" or "pragma"
    start = 0
    first_string: str | None = None
    for token in _TOKENS.finditer(content):
        text = token.group()
        if text.startswith("/") and text[1:2] in ("/", "*"):
            continue
        if text in ("import", "pragma"):
            if current is None:
                current, start, first_string = text, token.end(), None
        elif text == ";":
            if current == "import" and first_string is not None:
                imports.append(first_string)
            elif current == "pragma":
                words = content[start:token.start()].split(None, 1)
                if len(words) == 2 and words[0] == "solidity":
                    pragmas.append(" ".join(words[1].split()))
            current = None
        elif current == "import" and first_string is None and len(text) >= 2 and text[-1] == text[0]:
            first_string = text[1:-1]
    return imports, pragmas


def closure(sources: dict[str, SourceFile], unit: str) -> list[str]:
    seen: dict[str, None] = {}
    stack = [unit]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen[current] = None
            stack.extend(sources[current].imports)
    return list(seen)


def _group(sources: dict[str, SourceFile], targets: list[str]) -> list[CompileGroup]:
    """Fewest compiler runs: repeatedly take the installed version that fits the most remaining targets."""
    installed = toolchain.solc_versions()
    fits: dict[str, list[str]] = {}
    closures = {t: closure(sources, t) for t in targets}
    for t in targets:
        pragmas = [p for unit in closures[t] for p in sources[unit].pragmas]
        fits[t] = pragma.choose(installed, pragmas)
        if not fits[t]:
            raise ScanInputError(
                f"no installed solc-js release satisfies the pragmas of {t} ({', '.join(dict.fromkeys(pragmas))}; "
                f"installed: {', '.join(installed)}): add one as an npm alias \"solc-X.Y.Z\": \"npm:solc@X.Y.Z\""
            )
    groups: list[CompileGroup] = []
    remaining = list(targets)
    while remaining:
        best = max(installed, key=lambda v: (sum(v in fits[t] for t in remaining), pragma.parse_version(v)))
        chosen = [t for t in remaining if best in fits[t]]
        units = list(dict.fromkeys(u for t in chosen for u in closures[t]))
        groups.append(CompileGroup(best, chosen, units))
        remaining = [t for t in remaining if t not in chosen]
    return groups
