"""Contract artifacts for the demo world: the project's forge build, and real bytecode shipped by npm and PyPI
packages (Uniswap V2, WETH9, Safe v1.4.1)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from watchdog import toolchain
from watchdog.errors import ToolchainError

CONTRACTS_DIR = toolchain.PROJECT_ROOT / "contracts"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed creation code


def sources_hash() -> str:
    """Hash of every Solidity source and the build config: a cache key for deployed-world snapshots."""
    digest = hashlib.sha256()
    files = sorted(CONTRACTS_DIR.glob("src/**/*.sol")) + [CONTRACTS_DIR / "foundry.toml"]
    for path in files:
        digest.update(str(path.relative_to(CONTRACTS_DIR)).encode())
        digest.update(path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def _build_lock(mode: int) -> Iterator[None]:
    """Exclusive while forge writes contracts/out, shared while an artifact is read: processes running side by
    side (tests, drills, the devnet) never read a half-written artifact."""
    lock = toolchain.PROJECT_ROOT / "anvil" / "state" / "forge-build.lock"  # not committed, never cleaned by forge
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@cache
def build_contracts() -> None:
    """`forge build` the project's contracts, tests left out (incremental; offline, through the solc-js shim)."""
    with _build_lock(fcntl.LOCK_EX):
        _forge_build()


def _forge_build() -> None:
    try:
        proc = subprocess.run(
            [str(toolchain.tool("forge")), "build", "--offline", "--skip", "test"],
            cwd=CONTRACTS_DIR, env=toolchain.tool_env(), capture_output=True, text=True, timeout=600,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError("forge build took longer than 10 minutes") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise ToolchainError("forge build of contracts/ failed: " + " | ".join(tail))


def project(name: str, source: str | None = None) -> Artifact:
    """A contract of contracts/src from forge's output (built on first use)."""
    build_contracts()
    path = CONTRACTS_DIR / "out" / f"{source or name}.sol" / f"{name}.json"
    with _build_lock(fcntl.LOCK_SH):
        data = json.loads(path.read_text())
    return Artifact(name, data["abi"], data["bytecode"]["object"])


def npm(package: str, relative: str, name: str) -> Artifact:
    """A compiled contract shipped in an npm package (e.g. @uniswap/v2-core build/UniswapV2Pair.json)."""
    path = toolchain.node_modules() / package / relative
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ToolchainError(f"{package} artifact {relative} missing: run `make setup` (or `npm install`) in the watchdog checkout") from exc
    code = data.get("bytecode") or data.get("evm", {}).get("bytecode", {}).get("object", "")
    return Artifact(name, data["abi"], code if code.startswith("0x") else "0x" + code)


def safe_eth(name: str) -> Artifact:
    """A Safe contract (abi + bytecode) from safe-eth-py's bundled artifacts, e.g. Safe_V1_4_1."""
    import safe_eth.eth.contracts as contracts_pkg

    path = Path(contracts_pkg.__file__).parent / "abis" / f"{name}.json"
    data = json.loads(path.read_text())
    return Artifact(name, data["abi"], data["bytecode"])


def uniswap_factory() -> Artifact:
    return npm("@uniswap/v2-core", "build/UniswapV2Factory.json", "UniswapV2Factory")


def uniswap_pair() -> Artifact:
    return npm("@uniswap/v2-core", "build/UniswapV2Pair.json", "UniswapV2Pair")


def uniswap_router() -> Artifact:
    return npm("@uniswap/v2-periphery", "build/UniswapV2Router02.json", "UniswapV2Router02")


def weth9() -> Artifact:
    return npm("@uniswap/v2-periphery", "build/WETH9.json", "WETH9")
