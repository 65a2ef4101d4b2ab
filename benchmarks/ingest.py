#!/usr/bin/env python3
"""Ingestion benchmark: raw eth_getLogs vs web3.py get_logs vs watchdog's full path, plus live latency.

Run from the project root:  .venv/bin/python benchmarks/ingest.py [--logs 50000] [--latency-blocks 20]
(the same as `watchdog bench ingest --json`). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json

from watchdog.chain.bench import run_ingest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logs", type=int, default=50_000, help="logs emitted by the watched contract (default 50000)")
    parser.add_argument("--latency-blocks", type=int, default=20, help="1-second blocks for the live latency (default 20)")
    args = parser.parse_args()
    print(json.dumps(run_ingest(logs=args.logs, latency_blocks=args.latency_blocks)))


if __name__ == "__main__":
    main()
