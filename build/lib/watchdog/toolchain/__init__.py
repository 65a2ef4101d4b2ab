"""Locate the EVM toolchain that the project installs from npm: anvil, forge, cast, solc-js.

The foundry binaries are taken from their platform packages (no node wrapper in between, so a
signal reaches the real process); `solc()` is the project's native-style shim over solc-js.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path

from watchdog.errors import ToolchainError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parents[1]
FOUNDRY_TOOLS = ("anvil", "forge", "cast")


def node_modules() -> Path:
    """The node_modules folder holding the toolchain (env WATCHDOG_NODE_MODULES overrides)."""
    candidates = [os.environ.get("WATCHDOG_NODE_MODULES"), PROJECT_ROOT / "node_modules", Path.cwd() / "node_modules"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "solc" / "package.json").exists():
            return Path(candidate).resolve()
    raise ToolchainError("node_modules with the EVM toolchain not found: run `make setup` (or `npm install`) in the watchdog checkout")


def _platform_suffix() -> str:
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    return f"{platform.system().lower()}-{machine}"


def tool(name: str) -> Path:
    """Path of a foundry binary (anvil, forge, cast): npm platform package first, then PATH."""
    try:
        binary = node_modules() / "@foundry-rs" / f"{name}-{_platform_suffix()}" / "bin" / name
        if binary.exists():
            return binary
    except ToolchainError:
        pass
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ToolchainError(f"{name} not found: run `make setup` (or `npm install`) in the watchdog checkout (package @foundry-rs/{name})")


def solc() -> Path:
    """The `solc` executable over solc-js (answers --version and --standard-json)."""
    return PACKAGE_DIR / "bin" / "solc"


def solc_versions() -> list[str]:
    """Versions of the solc-js releases installed side by side (`solc` and `solc-X.Y.Z` aliases)."""
    root = node_modules()
    versions = []
    for pkg in sorted(root.glob("solc*/package.json")):
        meta = json.loads(pkg.read_text())
        if meta.get("name") == "solc":
            versions.append(meta["version"])
    return sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)


def tool_env() -> dict[str, str]:
    """Environment for child processes: the toolchain on PATH (slither calls `forge`) and found by the shim."""
    env = dict(os.environ)
    bins = [str(tool(name).parent) for name in FOUNDRY_TOOLS]
    env["PATH"] = os.pathsep.join([*dict.fromkeys(bins), str(solc().parent), env.get("PATH", "")])
    env["WATCHDOG_NODE_MODULES"] = str(node_modules())
    return env


def python_script(name: str) -> Path:
    """A console script installed beside the running Python (e.g. slither in the project's venv)."""
    import sys

    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ToolchainError(f"{name} not found: run `make` to install the Python dependencies")
