"""A state cache for the Harbor world: deploy once, then load anvil's state dump in milliseconds.

Keyed on everything that shapes the deployment (Solidity sources and build config, this package's code, the pinned
npm packages). Entries are two files under anvil/state/ (not committed), `harbor-<key>.state.hex` and
`harbor-<key>.json` (the manifest and its ABIs), beside the demo world's cache folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from watchdog import toolchain
from watchdog.devnet import artifacts
from watchdog.devnet.anvil import Anvil
from watchdog.devnet.world2.chain import HarborWorld, load_harbor, write_json
from watchdog.devnet.world2.deploy import deploy_harbor
from watchdog.errors import ConfigError, RpcError

CACHE_DIR = toolchain.PROJECT_ROOT / "anvil" / "state"
PREFIX = "harbor-"


def cache_key() -> str:
    digest = hashlib.sha256(artifacts.sources_hash().encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    lock = toolchain.PROJECT_ROOT / "package-lock.json"
    if lock.exists():
        digest.update(lock.read_bytes())
    return digest.hexdigest()[:16]


def harbor_on_anvil(anvil: Anvil, out_dir: Path, *, use_cache: bool = True) -> HarborWorld:
    """The Harbor world on `anvil`: loaded from the cache when the chain is fresh and an entry exists, otherwise
    deployed (and, on a fresh chain, stored for next time). The manifest and ABIs are written to out_dir."""
    out_dir = Path(out_dir)
    if not (use_cache and anvil.block_number() == 0):
        return deploy_harbor(anvil.url, out_dir)
    key = cache_key()
    state, bundle = CACHE_DIR / f"{PREFIX}{key}.state.hex", CACHE_DIR / f"{PREFIX}{key}.json"
    if state.exists() and bundle.exists():
        try:
            anvil.load_state(state)
            _resume_clock(anvil)
            _unpack(json.loads(bundle.read_text()), out_dir)
            return load_harbor(anvil.url, out_dir / "manifest.json")
        except (RpcError, OSError, ConfigError, ValueError, KeyError):  # a damaged entry: drop it, deploy afresh
            state.unlink(missing_ok=True)
            bundle.unlink(missing_ok=True)
            if anvil.block_number() != 0:
                return deploy_harbor(anvil.url, out_dir)
    world = deploy_harbor(anvil.url, out_dir)
    _store(anvil, out_dir, state, bundle)
    return world


def _resume_clock(anvil: Anvil) -> None:
    """anvil_loadState restores the blocks but not the node's clock: continue from the last block (or the wall
    clock, if later) so block times never go backwards (the pair's cumulative prices and the TWAP depend on it)."""
    latest = int(anvil.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    anvil.rpc("evm_setTime", [max(latest + 1, int(time.time()))])


def _unpack(data: dict[str, Any], out_dir: Path) -> None:
    for relative, abi in data["abis"].items():
        write_json(out_dir / relative, abi)
    write_json(out_dir / "manifest.json", data["manifest"])


def _store(anvil: Anvil, out_dir: Path, state: Path, bundle: Path) -> None:
    """Write the state, then the bundle (an entry is complete once its bundle exists), each under a temporary
    name renamed into place, so concurrent runs never read half a file; older entries are removed."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((out_dir / "manifest.json").read_text())
    abis = {entry["abi"]: json.loads((out_dir / entry["abi"]).read_text()) for entry in manifest["contracts"]}
    try:
        staging = _staging_file()
        anvil.dump_state(staging)
        os.replace(staging, state)
        staging = _staging_file()
        staging.write_text(json.dumps({"manifest": manifest, "abis": abis}))
        os.replace(staging, bundle)
    except OSError:  # a full disk or a vanished folder: the next run deploys again
        return
    for stale in CACHE_DIR.glob(f"{PREFIX}*"):
        if stale not in (state, bundle):
            stale.unlink(missing_ok=True)


def _staging_file() -> Path:
    fd, name = tempfile.mkstemp(prefix=".staging-", dir=CACHE_DIR)
    os.close(fd)
    return Path(name)
