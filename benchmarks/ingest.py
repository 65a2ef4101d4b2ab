#!/usr/bin/env python3
"""Ingestion benchmark: one local anvil, one run, four figures.

Run from the project root:  .venv/bin/python benchmarks/ingest.py [--logs 50000] [--latency-blocks 20]
(the same as `watchdog bench ingest --json`). Prints one JSON object.

(a) raw: one eth_getLogs JSON-RPC call over httpx + json, the ceiling;
(b) web3.py: `w3.eth.get_logs` over the same range, what users write today;
(c) watchdog: the block follower's full path (fetch logs and blocks, decode, rules, store, checkpoint), with the
    benchmark's one rule and with the real engine and its default rules;
(d) live latency with 1-second blocks: from the `evm_mine` request to the block's findings committed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx
from prometheus_client import CollectorRegistry

from watchdog import toolchain
from watchdog.chain.abi import AbiRegistry, encode_call
from watchdog.chain.events import BlockBundle, ChainReader, PendingTx
from watchdog.pipeline import Follower, FollowerOptions
from watchdog.chain.rpc import RpcClient
from watchdog.chain.ws import Subscriber
from watchdog.detect import Engine
from watchdog.manifest import Manifest
from watchdog.finding import Finding, Severity
from watchdog.devnet import Anvil
from watchdog.errors import ToolchainError
from watchdog.store import Store

SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract BenchToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    // One transfer in a hundred is large (the benchmark rule reports it).
    function burst(address to, uint256 count, uint256 base) external {
        for (uint256 i = 0; i < count; i++) { emit Transfer(msg.sender, to, i % 100 == 99 ? base + i + 1e18 : base + i); }
    }
}
"""
LOGS_PER_TX = 250
LARGE = 10**18          # the benchmark rule flags transfers at least this large (1% of the logs)


def _compile() -> dict[str, Any]:
    request = {"language": "Solidity", "sources": {"Bench.sol": {"content": SOURCE}},
               "settings": {"optimizer": {"enabled": True, "runs": 200},
                            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}}}
    done = subprocess.run([str(toolchain.solc()), "--standard-json"], input=json.dumps(request),
                          capture_output=True, text=True, timeout=300)
    try:
        contract = json.loads(done.stdout)["contracts"]["Bench.sol"]["BenchToken"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise ToolchainError(f"the benchmark contract did not compile with the solc-js shim: {done.stderr.strip()[:200]}") from exc
    return {"abi": contract["abi"], "bytecode": "0x" + contract["evm"]["bytecode"]["object"]}


class LargeTransfers:
    """The benchmark's rule: a finding for every Transfer of at least LARGE from a watched token."""

    def __init__(self, tokens: set[str]) -> None:
        self.tokens = tokens

    def watched_topics(self) -> set[str]:
        return set()

    def on_block(self, bundle: BlockBundle) -> list[Finding]:
        return [
            Finding(rule_id="bench.large-transfer", title="large transfer", severity=Severity.MEDIUM, confidence=1.0,
                    network=bundle.network, block_number=bundle.block.number, block_hash=bundle.block.hash,
                    tx_hash=log.tx_hash, addresses=[log.address], evidence={"value": str(log.args["value"])},
                    key=str(log.log_index))
            for log in bundle.logs
            if log.event == "Transfer" and log.address in self.tokens and log.args and log.args["value"] >= LARGE
        ]

    def on_pending(self, pending: PendingTx, reader: ChainReader) -> list[Finding]:
        return []

    def on_schedule(self, reader: ChainReader) -> list[Finding]:
        return []


def _mined(rpc: RpcClient, tx_hash: str) -> dict[str, Any]:
    """The receipt, once anvil (which mines asynchronously) has mined the transaction."""
    deadline = time.monotonic() + 60
    while (receipt := rpc.call("eth_getTransactionReceipt", [tx_hash])) is None:
        if time.monotonic() > deadline:
            raise ToolchainError(f"transaction {tx_hash} was not mined within 60 s")
        time.sleep(0.01)
    return receipt


def _timed(fn: Callable[[], int]) -> Callable[[], tuple[int, float]]:
    def run() -> tuple[int, float]:
        started = time.perf_counter()
        got = fn()
        return got, time.perf_counter() - started
    return run


def _best_rates(count: int, runs: int, **ways: Callable[[], tuple[int, float]]) -> dict[str, float]:
    """Logs per second of the fastest of `runs` runs of each way. The ways take turns within a round,
    so a burst of load on the machine hits them alike instead of one of them."""
    best = {name: float("inf") for name in ways}
    for _ in range(runs):
        for name, way in ways.items():
            got, elapsed = way()
            if got != count:
                raise ToolchainError(f"benchmark ({name}) saw {got} logs instead of {count}")
            best[name] = min(best[name], elapsed)
    return {name: count / seconds for name, seconds in best.items()}


def run_ingest(logs: int = 50_000, latency_blocks: int = 20, backfill_blocks: int = 300) -> dict[str, Any]:
    artifact = _compile()
    with Anvil(accounts=2) as node, tempfile.TemporaryDirectory() as tmp:
        rpc = RpcClient(node.url, timeout=120)
        sender, receiver = rpc.call("eth_accounts")[:2]
        tx = rpc.call("eth_sendTransaction", [{"from": sender, "data": artifact["bytecode"]}])
        token = _mined(rpc, tx)["contractAddress"].lower()
        first = node.block_number() + 1

        def burst(count: int, base: int) -> dict[str, Any]:
            data = encode_call("burst(address,uint256,uint256)", [receiver, count, base])
            return {"from": sender, "to": token, "data": data}

        txs = [burst(min(LOGS_PER_TX, logs - n), n) for n in range(0, logs, LOGS_PER_TX)]
        for item in txs:  # one by one: anvil mines each at once, nonces stay in order
            sent = rpc.call("eth_sendTransaction", [item])
        last = int(_mined(rpc, sent)["blockNumber"], 16)
        total = logs
        query = {"fromBlock": hex(first), "toBlock": hex(last), "address": [token]}

        http = httpx.Client(timeout=120)
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [query]}
        raw = _timed(lambda: len(json.loads(http.post(node.url, json=body).content)["result"]))

        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120}))
        web3_query = {"fromBlock": first, "toBlock": last, "address": [Web3.to_checksum_address(token)]}
        web3_rate = _best_rates(total, 2, web3py=_timed(lambda: len(w3.eth.get_logs(web3_query))))["web3py"]  # type: ignore[arg-type]

        registry = AbiRegistry()
        registry.add_abi(artifact["abi"], token, "BenchToken")
        handler = LargeTransfers({token})

        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        follower_rpc = RpcClient(node.url, timeout=120)
        runs: list[str] = []

        def followed(judge: Any) -> tuple[int, float]:
            """One complete backfill handled by `judge`; each run is a network of its own in the store, so nothing
            is deduplicated."""
            runs.append(f"bench{len(runs)}")
            follower = Follower(runs[-1], follower_rpc, store, judge, {token}, registry,
                                FollowerOptions(start_block=first, max_range=10_000))
            started = time.perf_counter()
            follower.run_until(last)
            elapsed = time.perf_counter() - started
            follower.close()
            seen = follower.metrics.registry.get_sample_value("watchdog_logs_processed_total", {"network": runs[-1]})
            return int(seen or 0), elapsed

        rates = _best_rates(total, 5, raw=raw, watchdog=lambda: followed(handler))
        raw_rate, watchdog_rate = rates["raw"], rates["watchdog"]
        manifest = Manifest(chain_id=int(rpc.call("eth_chainId"), 16), block=first,
                            contracts=[{"name": "BenchToken", "address": token, "role": "token", "abi": artifact["abi"]}])
        engine = Engine("bench-engine", manifest, store, metrics_registry=CollectorRegistry())

        engine_rate = _best_rates(total, 2, engine=lambda: followed(engine))["engine"]  # every default rule
        store.close()
        backfill = _backfill_cost(node, rpc, token, registry, handler, Path(tmp), backfill_blocks)
        latencies = _live_latency(node, rpc, token, registry, handler, burst, Path(tmp), latency_blocks)
        http.close()
        rpc.close()

    latencies.sort()
    return {
        "logs": total,
        "blocks": last - first + 1,
        "raw_logs_per_s": round(raw_rate),
        "web3py_logs_per_s": round(web3_rate),
        "watchdog_logs_per_s": round(watchdog_rate),
        "watchdog_vs_raw": round(watchdog_rate / raw_rate, 3),
        "watchdog_vs_web3py": round(watchdog_rate / web3_rate, 2),
        "engine_logs_per_s": round(engine_rate),
        "engine_vs_raw": round(engine_rate / raw_rate, 3),
        "latency_blocks": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))], 1),
        **backfill,
    }


def _backfill_cost(node: Anvil, rpc: RpcClient, token: str, registry: AbiRegistry, handler: LargeTransfers,
                   tmp: Path, blocks: int, txs_per_block: int = 10) -> dict[str, Any]:
    """What a complete catch-up costs over blocks of traffic the watchdog does not watch (plain transfers of the
    native coin): every block read with its transactions, against only the blocks with watched logs."""
    sender, receiver = rpc.call("eth_accounts")[:2]
    rpc.call("evm_setAutomine", [False])
    first = node.block_number() + 1
    nonce = int(rpc.call("eth_getTransactionCount", [sender, "pending"]), 16)
    for _ in range(blocks):
        rpc.batch([("eth_sendTransaction", [{"from": sender, "to": receiver, "value": "0x1", "nonce": hex(nonce + n)}])
                   for n in range(txs_per_block)])
        nonce += txs_per_block
        rpc.call("evm_mine")
    rpc.call("evm_setAutomine", [True])
    last = node.block_number()
    store = Store(f"sqlite:///{tmp / 'backfill.db'}")
    seconds = {}
    for mode in ("complete", "logs"):
        follower = Follower(f"backfill-{mode}", RpcClient(node.url, timeout=120), store, handler, {token}, registry,
                            FollowerOptions(start_block=first, max_range=10_000, backfill=mode))  # type: ignore[arg-type]
        started = time.perf_counter()
        follower.run_until(last)
        seconds[mode] = time.perf_counter() - started
        follower.close()
    store.close()
    count = last - first + 1
    return {"backfill_blocks": count, "backfill_txs_per_block": txs_per_block,
            "backfill_complete_blocks_per_s": round(count / seconds["complete"]),
            "backfill_logs_blocks_per_s": round(count / seconds["logs"]),
            "backfill_complete_vs_logs": round(seconds["complete"] / seconds["logs"], 2)}


def _live_latency(node: Anvil, rpc: RpcClient, token: str, registry: AbiRegistry, handler: LargeTransfers,
                  burst: Callable[[int, int], dict[str, Any]], tmp: Path, blocks: int) -> list[float]:
    """Milliseconds from asking anvil to mine a block (one per second) to that block's findings committed."""
    rpc.call("evm_setAutomine", [False])
    store = Store(f"sqlite:///{tmp / 'live.db'}")
    follower = Follower("bench", RpcClient(node.url), store, handler, {token}, registry,
                        FollowerOptions(start_block=node.block_number() + 1, poll_interval=1.0))
    committed: dict[int, float] = {}
    done = threading.Condition()

    def sink(new: list[Any], _retracted: list[Any]) -> None:
        now = time.perf_counter()
        with done:
            for record in new:
                committed.setdefault(record.block_number, now)
            done.notify_all()

    follower.sinks.append(sink)
    heads = Subscriber(node.ws_url, name="bench")
    heads.subscribe("newHeads", lambda _head: follower.wake.set())
    heads.start()
    heads.connected.wait(10)
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), daemon=True)
    thread.start()
    latencies: list[float] = []
    next_tick = time.monotonic()
    for _ in range(blocks):
        next_tick += 1.0
        rpc.call("eth_sendTransaction", [burst(100, 0)])  # 100 logs, one of them large
        time.sleep(max(0.0, next_tick - time.monotonic()))
        mined_at = time.perf_counter()
        rpc.call("evm_mine")
        number = node.block_number()
        with done:
            done.wait_for(lambda: number in committed, timeout=10)
        if number in committed:
            latencies.append((committed[number] - mined_at) * 1000)
    stop.set()
    follower.wake.set()
    thread.join(10)
    follower.close()
    heads.stop()
    store.close()
    rpc.call("evm_setAutomine", [True])
    if not latencies:
        raise ToolchainError("no live block reached the store within 10 s: the follower is not keeping up")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logs", type=int, default=50_000, help="logs emitted by the watched contract (default 50000)")
    parser.add_argument("--latency-blocks", type=int, default=20, help="1-second blocks for the live latency (default 20)")
    parser.add_argument("--backfill-blocks", type=int, default=300, help="blocks of unwatched traffic caught up on (default 300)")
    args = parser.parse_args()
    print(json.dumps(run_ingest(logs=args.logs, latency_blocks=args.latency_blocks, backfill_blocks=args.backfill_blocks)))


if __name__ == "__main__":
    main()
