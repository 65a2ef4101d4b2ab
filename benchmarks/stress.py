"""How long a stress run takes on the Harbor world: ten what-if scenarios on one fork, against a baseline measured in
the same run (learning the protocol model straight from the node, what `watchdog protocol show` does) and a run with
no scenario (the fork, the model, the accounts and their first reading). Prints one JSON object.

    .venv/bin/python benchmarks/stress.py [--scenarios 10]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.detect.model import Prober
from watchdog.detect.reads import ChainReads
from watchdog.detect.registry import ProtocolRegistry
from watchdog.devnet import Anvil
from watchdog.devnet.world2 import harbor_on_anvil
from watchdog.stress import StressRun, parse

SCENARIOS = ["shock:WETH:-10%", "shock:WETH:-20%", "shock:WETH:-30%", "shock:WETH:-40%", "shock:WETH:-50%",
             "shock:WETH:+30%", "shock:HBR:-30%", "stop:EthUsdFeed:-30%", "pause:CreditPool:WETH:-40%",
             "pause:PerpExchange"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=len(SCENARIOS), help="how many of the ten scenarios to run")
    args = parser.parse_args()
    wanted = [s for text in SCENARIOS[:args.scenarios] for s in parse(text)]
    with tempfile.TemporaryDirectory() as folder, Anvil() as node:
        world = harbor_on_anvil(node, Path(folder))
        started = time.perf_counter()
        client = RpcClient(node.url)
        head = int(client.call("eth_blockNumber"), 16)
        Prober(ProtocolRegistry(world.manifest), ChainReads(BlockReader(client, "bench", head), {}), head).learn()
        client.close()
        learn = time.perf_counter() - started
        started = time.perf_counter()
        StressRun(world.manifest, node.url).run([])
        setup = time.perf_counter() - started
        started = time.perf_counter()
        report = StressRun(world.manifest, node.url).run(wanted)
        total = time.perf_counter() - started
    print(json.dumps({
        "world": "harbor", "cores": os.cpu_count(), "scenarios": len(wanted),
        "accounts": sum(h["accounts_named"] for h in report["holders"]),
        "learn_model_s": round(learn, 2), "setup_s": round(setup, 2), "run_s": round(total, 2),
        "per_scenario_s": round((total - setup) / max(1, len(wanted)), 2),
        "run_vs_learn_model": round(total / learn, 1), "under_a_minute": total < 60,
        "liquidations": sum(s["liquidations"]["executed"] for s in report["scenarios"]),
    }))


if __name__ == "__main__":
    main()
