"""Deploy the demo world onto a JSON-RPC node and write its deployment manifest.

    python anvil/deploy.py --rpc http://127.0.0.1:8545 --out manifest.json

The node must fund anvil's public dev accounts (any anvil does). ABI files are written beside the manifest.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from watchdog.devnet.world import deploy_world
from watchdog.errors import WatchdogError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc", default="http://127.0.0.1:8545", help="JSON-RPC URL of the node to deploy on")
    parser.add_argument("--out", type=Path, default=Path("manifest.json"), help="where to write the manifest")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        world = deploy_world(args.rpc, args.out.parent, manifest_name=args.out.name)
    except WatchdogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"deployed {len(world.addresses)} contracts in {time.monotonic() - started:.1f}s")
    print(world.manifest_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
