"""A state cache for the demo world: deploy once, then load anvil's state dump in milliseconds.

Keyed on everything that shapes the deployment (Solidity sources, build config, deployer code, pinned npm
packages, the Safe artifacts' version), so a change to any of them redeploys. Lives under anvil/state/
(not committed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from watchdog import toolchain
from watchdog.devnet import artifacts
from watchdog.devnet.anvil import Anvil
from watchdog.devnet.world import World, deploy_world, load_world
from watchdog.errors import ConfigError, RpcError

CACHE_DIR = toolchain.PROJECT_ROOT / "anvil" / "state"
_DEPLOYER_CODE = ("world.py", "safe.py", "accounts.py", "artifacts.py", "txs.py")


def cache_key() -> str:
    digest = hashlib.sha256(artifacts.sources_hash().encode())
    here = Path(__file__).parent
    for name in _DEPLOYER_CODE:
        digest.update((here / name).read_bytes())
    lock = toolchain.PROJECT_ROOT / "package-lock.json"
    if lock.exists():
        digest.update(lock.read_bytes())
    digest.update(version("safe-eth-py").encode())
    return digest.hexdigest()[:16]


def world_on_anvil(anvil: Anvil, out_dir: Path, *, use_cache: bool = True) -> World:
    """The demo world on `anvil`: loaded from the cache when the chain is fresh and a dump exists, otherwise
    deployed (and, on a fresh chain, dumped for next time). The manifest and ABIs are written to out_dir."""
    out_dir = Path(out_dir)
    fresh = anvil.block_number() == 0
    if not (use_cache and fresh):
        return deploy_world(anvil.url, out_dir)
    entry = CACHE_DIR / cache_key()
    if (entry / "state.hex").exists():
        try:
            anvil.load_state(entry / "state.hex")
            _resume_clock(anvil)
            shutil.copytree(entry / "world", out_dir, dirs_exist_ok=True)
            return load_world(anvil.url, out_dir / "manifest.json")
        except (RpcError, OSError, ConfigError):  # a damaged entry: drop it and deploy afresh
            shutil.rmtree(entry, ignore_errors=True)
            if anvil.block_number() != 0:
                return deploy_world(anvil.url, out_dir)
    world = deploy_world(anvil.url, out_dir)
    _store(anvil, out_dir, entry)
    return world


def _resume_clock(anvil: Anvil) -> None:
    """anvil_loadState restores the blocks but not the node's clock: the next block would take the wall-clock time,
    which lies behind a dump taken within minutes of the deployment (it moves chain time forward). Continue from the
    last block instead, so block times never go backwards (the pair's cumulative prices and the TWAP depend on it);
    evm_setTime keeps the offset, so later blocks move on with the wall clock."""
    latest = int(anvil.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    anvil.rpc("evm_setTime", [max(latest + 1, int(time.time()))])


def _store(anvil: Anvil, out_dir: Path, entry: Path) -> None:
    """Write the entry into a temporary folder and rename it into place, so concurrent runs never see half."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=CACHE_DIR))
    try:
        anvil.dump_state(staging / "state.hex")
        shutil.copytree(out_dir, staging / "world", ignore=shutil.ignore_patterns("state.hex"))
        os.replace(staging, entry)
    except OSError:  # another run stored the same entry first
        shutil.rmtree(staging, ignore_errors=True)
        return
    for stale in CACHE_DIR.iterdir():  # entries of older sources are never used again
        if stale.is_dir() and stale != entry and not stale.name.startswith(".staging-"):
            shutil.rmtree(stale, ignore_errors=True)
