#!/usr/bin/env python3
"""Load benchmark: mainnet-shaped blocks against the full watchdog, one local anvil, one run.

Run from the project root:  .venv/bin/python benchmarks/load.py [--levels 20:0.5,100:0.5,300:0.1,300:0.5] [--blocks 60]
(the same as `watchdog bench load --json`). Prints one JSON object with one entry per level.

The demo world is deployed (from the state cache), with an unwatched token pair beside it and a few hundred
funded accounts. For each level (N transactions per block, a share of them watched) the transactions of every
block are signed beforehand; then a 1-second clock sends each block's transactions and mines it, while
`watchdog run` (zero-config: the default rules and responder, its own process and store) follows the chain over
its WebSocket. Watched transactions are transfers of the watched dollar token, swaps on the watched pair and vault
deposits and withdrawals; the others are native-coin transfers and transfers and swaps of another token pair.

Measured from outside: block mined (the `evm_mine` answer) -> its checkpoint committed in the daemon's store
(polled); the raw minimum in the same run, the same blocks: the time to read the block with its transactions plus
`eth_getBlockReceipts`, in one batch over httpx + json (asked once the daemon has committed the block, so that
neither request slows the other down); the next block's transactions are sent half a second before it is mined.
The daemon's RPC requests and
calls by method (its own metrics); CPU of the daemon's and of the node's processes. A level with a watched share
under one half is followed by a level of its watched transactions alone, so that what the unwatched ones cost
shows as a ratio of the same run.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from watchdog.chain.abi import encode_call
from watchdog.chain.rpc import RpcClient
from watchdog.devnet import Anvil, artifacts
from watchdog.devnet.anvil import free_port
from watchdog.devnet.cache import world_on_anvil
from watchdog.devnet.txs import connect, deploy, send
from watchdog.devnet.world import World
from watchdog.errors import ConfigError, ToolchainError

LEVELS = "20:0.5,100:0.5,300:0.1,300:0.5"
E18 = 10**18
GAS_LIMIT = 1_000_000_000  # the node's block gas limit: 300 swaps must fit in one block
MAX_FEE, TIP = 50 * 10**9, 10**9
DEADLINE = 2**40
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Level:
    txs: int        # transactions per block
    share: float    # watched share of them

    @property
    def watched(self) -> int:
        return round(self.txs * self.share)


def parse_levels(text: str) -> list[Level]:
    """`N:share,N:share` (share between 0 and 1)."""
    levels = []
    for part in text.split(","):
        try:
            count, share = part.split(":")
            level = Level(int(count), float(share))
        except ValueError:
            raise ConfigError(f"--levels {text!r}: write levels as N:share separated by commas, e.g. 20:0.5,300:0.1") from None
        if level.txs < 1 or not 0 <= level.share <= 1:
            raise ConfigError(f"--levels: {part!r} needs at least one transaction and a share between 0 and 1")
        levels.append(level)
    return levels


# --- the traffic -------------------------------------------------------------------------------------------------
@dataclass
class Traffic:
    """Accounts with their nonces, and the contracts their transactions call."""

    chain_id: int
    keys: list[Any]
    nonces: list[int]
    usd: str
    vault: str
    router: str
    weth: str
    other_router: str
    other: tuple[str, str]
    turn: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def sign(self, index: int, to: str, data: str = "0x", value: int = 0, gas: int = 200_000) -> str:
        tx = {"to": _checksum(to), "data": data, "value": value, "gas": gas, "maxFeePerGas": MAX_FEE, "maxPriorityFeePerGas": TIP,
              "nonce": self.nonces[index], "chainId": self.chain_id, "type": 2}
        self.nonces[index] += 1
        return "0x" + self.keys[index].sign_transaction(tx).raw_transaction.hex()

    def block(self, level: Level) -> list[str]:
        """One block's transactions, each from another account: the watched ones and the rest, interleaved."""
        watched, count = level.watched, level.txs
        kinds = ["watched"] * watched + ["other"] * (count - watched)
        kinds = [kinds[(i * 7919) % count] for i in range(count)] if count > 1 else kinds  # spread, deterministic
        out = []
        for kind in kinds:
            account = self.turn % len(self.keys)
            self.turn += 1
            out.append(self._watched(account) if kind == "watched" else self._other(account))
        return out

    def _next(self, kind: str) -> int:
        self.kinds[kind] = self.kinds.get(kind, -1) + 1
        return self.kinds[kind]

    def _watched(self, account: int) -> str:
        n = self._next("watched")
        me = self.keys[account].address
        peer = self.keys[(account + 1) % len(self.keys)].address
        if n % 3 == 0:
            return self.sign(account, self.usd, encode_call("transfer(address,uint256)", [peer, E18]), gas=80_000)
        if n % 3 == 1:
            if (n // 3) % 2 == 0:
                data = encode_call("swapExactETHForTokens(uint256,address[],address,uint256)", [0, [self.weth, self.usd], me, DEADLINE])
                return self.sign(account, self.router, data, value=E18 // 100)
            data = encode_call("swapExactTokensForETH(uint256,uint256,address[],address,uint256)",
                               [30 * E18, 0, [self.usd, self.weth], me, DEADLINE])
            return self.sign(account, self.router, data)
        call = "deposit(uint256)" if (n // 3) % 2 == 0 else "withdraw(uint256)"
        return self.sign(account, self.vault, encode_call(call, [10 * E18 if call.startswith("deposit") else 5 * E18]), gas=150_000)

    def _other(self, account: int) -> str:
        n = self._next("other")
        peer = self.keys[(account + 1) % len(self.keys)].address
        if n % 3 == 0:
            return self.sign(account, peer, value=1, gas=21_000)
        if n % 3 == 1:
            return self.sign(account, self.other[0], encode_call("transfer(address,uint256)", [peer, E18]), gas=80_000)
        path = list(self.other) if (n // 3) % 2 == 0 else list(reversed(self.other))
        data = encode_call("swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
                           [E18, 0, path, self.keys[account].address, DEADLINE])
        return self.sign(account, self.other_router, data)


@functools.lru_cache(maxsize=None)
def _checksum(address: str) -> str:
    return to_checksum_address(address)


def prepare(node: Anvil, world: World, accounts: int) -> Traffic:
    """The unwatched token pair, and `accounts` accounts funded, approved and with collateral in the vault."""
    w3 = connect(node.url, world.accounts.all())
    deployer = world.accounts.deployer
    token = artifacts.project("DemoToken")
    a = deploy(w3, deployer, token, "Other A", "OTA", 18, deployer.address)
    b = deploy(w3, deployer, token, "Other B", "OTB", 18, deployer.address)
    factory = deploy(w3, deployer, artifacts.uniswap_factory(), deployer.address)
    weth = world.addresses["WETH"]
    router = deploy(w3, deployer, artifacts.uniswap_router(), factory.address, weth)
    for item in (a, b):
        send(w3, item.functions.mint(deployer.address, 10**9 * E18), deployer)
        send(w3, item.functions.approve(router.address, 2**256 - 1), deployer)
    send(w3, router.functions.addLiquidity(a.address, b.address, 10**8 * E18, 10**8 * E18, 0, 0, deployer.address, DEADLINE), deployer)

    keys = [Account.from_key(keccak(text=f"watchdog load account {i}")) for i in range(accounts)]
    rpc = RpcClient(node.url, timeout=120)
    rpc.batch([("anvil_setBalance", [k.address, hex(10**6 * E18)]) for k in keys])
    traffic = Traffic(int(rpc.call("eth_chainId"), 16), keys, [0] * accounts, world.addresses["dUSD"].lower(),
                      world.addresses["CollateralVault"].lower(), world.addresses["UniswapV2Router02"].lower(),
                      weth.lower(), router.address.lower(), (a.address.lower(), b.address.lower()))
    owner = Account.from_key(deployer.key)
    owner_nonce = int(rpc.call("eth_getTransactionCount", [deployer.address, "pending"]), 16)
    mints = []
    for k in keys:
        for token_address in (traffic.usd, *traffic.other):
            tx = {"to": _checksum(token_address), "data": encode_call("mint(address,uint256)", [k.address, 10**6 * E18]), "gas": 100_000,
                  "maxFeePerGas": MAX_FEE, "maxPriorityFeePerGas": TIP, "nonce": owner_nonce, "chainId": traffic.chain_id, "type": 2}
            owner_nonce += 1
            mints.append("0x" + owner.sign_transaction(tx).raw_transaction.hex())
    _mine_all(rpc, mints)
    setup = []
    for i in range(accounts):
        for token_address, spender in ((traffic.usd, traffic.router), (traffic.usd, traffic.vault),
                                       (traffic.other[0], traffic.other_router), (traffic.other[1], traffic.other_router)):
            setup.append(traffic.sign(i, token_address, encode_call("approve(address,uint256)", [spender, 2**256 - 1]), gas=80_000))
        setup.append(traffic.sign(i, traffic.vault, encode_call("deposit(uint256)", [1_000 * E18]), gas=150_000))
    _mine_all(rpc, setup)
    rpc.close()
    return traffic


def _mine_all(rpc: RpcClient, raw_txs: list[str]) -> None:
    """Send signed transactions and mine until all are in, each of them successful."""
    rpc.call("evm_setAutomine", [False])
    hashes = []
    for i in range(0, len(raw_txs), 500):
        hashes += rpc.batch([("eth_sendRawTransaction", [raw]) for raw in raw_txs[i:i + 500]])
    while int(rpc.call("txpool_status")["pending"], 16):
        rpc.call("evm_mine")
    receipts = []
    for i in range(0, len(hashes), 500):
        receipts += rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes[i:i + 500]])
    failed = sum(1 for r in receipts if not r or r.get("status") != "0x1")
    if failed:
        raise ToolchainError(f"load benchmark set-up: {failed} of {len(hashes)} transactions failed")


# --- one level ---------------------------------------------------------------------------------------------------
class CheckpointWatch(threading.Thread):
    """Polls the daemon's store: when each block's checkpoint was committed (monotonic clock)."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.committed: dict[int, float] = {}
        self.checkpoint = -1
        self.stop = threading.Event()

    def run(self) -> None:
        connection: sqlite3.Connection | None = None
        while not self.stop.is_set():
            try:
                if connection is None:
                    connection = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1)
                row = connection.execute("SELECT block_number FROM checkpoint").fetchone()
            except sqlite3.Error:
                row, connection = None, None
            now = time.monotonic()
            if row and row[0] > self.checkpoint:
                for number in range(max(self.checkpoint + 1, row[0] - 10_000), row[0] + 1):
                    self.committed.setdefault(number, now)
                self.checkpoint = row[0]
            time.sleep(0.002)
        if connection is not None:
            connection.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _metrics(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("watchdog_rpc_requests_total", "watchdog_rpc_calls_total")):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(node: Anvil, world: World, traffic: Traffic, level: Level, blocks: int, tmp: Path) -> dict[str, Any]:
    """One level: `blocks` 1-second blocks of `level` traffic, the daemon following from the first one."""
    rpc = RpcClient(node.url, timeout=120)
    rpc.call("evm_setAutomine", [False])
    signed = [traffic.block(level) for _ in range(blocks)]
    head = int(rpc.call("eth_blockNumber"), 16)
    folder = tmp / f"level-{level.txs}-{level.share}-{time.monotonic_ns()}"
    shutil.copytree(world.manifest_path.parent, folder, ignore=shutil.ignore_patterns("*.db*", "level-*"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["block"] = head  # the daemon starts with the last set-up block: ready once it is committed
    (folder / "manifest.json").write_text(json.dumps(manifest))
    db, port = folder / "watchdog.db", free_port()
    log = open(folder / "daemon.log", "wb")
    daemon = subprocess.Popen([sys.executable, "-m", "watchdog", "run", "--manifest", str(folder / "manifest.json"),
                               "--rpc", node.url, "--ws", node.ws_url, "--store", f"sqlite:///{db}",
                               "--metrics-port", str(port), "--json-logs"],
                              cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    watch = CheckpointWatch(db)
    try:
        _wait_ready(daemon, port, folder)
        watch.start()
        http = httpx.Client(timeout=120)
        mined: dict[int, float] = {}
        raw: list[float] = []

        def raw_minimum(number: int) -> float:
            """Milliseconds to read a block with its transactions and receipts: one batch, parsed."""
            body = [{"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": [hex(number), True]},
                    {"jsonrpc": "2.0", "id": 2, "method": "eth_getBlockReceipts", "params": [hex(number)]}]
            began = time.monotonic()
            answer = json.loads(http.post(node.url, json=body).content)
            elapsed = (time.monotonic() - began) * 1000
            if len(answer[0]["result"]["transactions"]) != level.txs:
                raise ToolchainError(f"block {number} holds {len(answer[0]['result']['transactions'])} transactions, not {level.txs}")
            return elapsed

        lags: list[int] = []
        before = _metrics(port)
        cpu_daemon, cpu_node, started = _cpu_seconds(daemon.pid), _cpu_seconds(node.process.pid), time.monotonic()  # type: ignore[union-attr]
        tick = time.monotonic() + 1.0
        for batch in signed:
            # the next block's transactions arrive half a second before it is mined
            time.sleep(max(0.0, tick - 0.5 - time.monotonic()))
            rpc.batch([("eth_sendRawTransaction", [raw_tx]) for raw_tx in batch])
            time.sleep(max(0.0, tick - time.monotonic()))
            lags.append(head - watch.checkpoint if watch.checkpoint >= 0 else head)
            rpc.call("evm_mine")
            head += 1
            mined[head] = time.monotonic()
            # the raw minimum of the same block, read once the watchdog has committed it (or 0.4 s later), so
            # that neither slows the other down
            while head not in watch.committed and time.monotonic() < mined[head] + 0.4:
                time.sleep(0.002)
            raw.append(raw_minimum(head))
            tick += 1.0
        behind_at_end = head - watch.checkpoint
        deadline = time.monotonic() + 60
        while watch.checkpoint < head and time.monotonic() < deadline and daemon.poll() is None:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        cpu_daemon, cpu_node = _cpu_seconds(daemon.pid) - cpu_daemon, _cpu_seconds(node.process.pid) - cpu_node  # type: ignore[union-attr]
        after = _metrics(port)
        http.close()
    finally:
        watch.stop.set()
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(10)
        log.close()
        rpc.close()
    latencies = [(watch.committed[n] - t) * 1000 for n, t in mined.items() if n in watch.committed]
    if not latencies or not raw:
        raise ToolchainError(f"level {level.txs}:{level.share}: no block was committed; see {folder / 'daemon.log'}")
    requests = sum(v - before.get(k, 0) for k, v in after.items() if k.startswith("watchdog_rpc_requests_total"))
    calls: dict[str, float] = {}
    for key, value in after.items():
        if key.startswith("watchdog_rpc_calls_total"):
            method = key.split('method="', 1)[1].split('"', 1)[0]
            calls[method] = round((value - before.get(key, 0)) / blocks, 2)
    result = {
        "txs_per_block": level.txs, "watched_share": level.share, "watched_per_block": level.watched, "blocks": blocks,
        "p50_ms": round(statistics.median(latencies), 1), "p99_ms": round(_percentile(latencies, 0.99), 1),
        "raw_p50_ms": round(statistics.median(raw), 1), "raw_p99_ms": round(_percentile(raw, 0.99), 1),
        "max_lag_blocks": max(lags), "behind_at_end": behind_at_end, "uncommitted": blocks - len(latencies),
        "requests_per_block": round(requests / blocks, 2), "calls_per_block": dict(sorted(calls.items())),
        "daemon_cpu_pct": round(100 * cpu_daemon / elapsed, 1), "node_cpu_pct": round(100 * cpu_node / elapsed, 1),
    }
    result["p99_vs_raw_p99"] = round(result["p99_ms"] / result["raw_p99_ms"], 2)
    return result


def _wait_ready(daemon: subprocess.Popen[bytes], port: int, folder: Path, timeout: float = 120) -> None:
    """Until the daemon answers /health and has committed its first block."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            tail = (folder / "daemon.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise ToolchainError(f"watchdog run exited with code {daemon.returncode}: " + " | ".join(tail))
        try:
            report = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
            if all(n.get("checkpoint") is not None for n in report["networks"].values()):
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    tail = (folder / "daemon.log").read_text(errors="replace").strip().splitlines()[-5:]
    raise ToolchainError(f"watchdog run was not ready within {timeout:.0f} s; its log ends with: " + " | ".join(tail))


def run_load(levels: str = LEVELS, blocks: int = 60, accounts: int = 400) -> dict[str, Any]:
    wanted = parse_levels(levels)
    if accounts < max(level.txs for level in wanted):
        raise ConfigError(f"--accounts {accounts}: each transaction of a block comes from another account; "
                             f"give at least {max(level.txs for level in wanted)}")
    results = []
    with Anvil(accounts=10, extra_args=("--gas-limit", str(GAS_LIMIT))) as node, tempfile.TemporaryDirectory() as tmp:
        world = world_on_anvil(node, Path(tmp) / "world")
        traffic = prepare(node, world, accounts)
        for level in wanted:
            result = measure(node, world, traffic, level, blocks, Path(tmp))
            if 0 < level.share < 0.5:
                alone = measure(node, world, traffic, Level(level.watched, 1.0), blocks, Path(tmp))
                result["watched_only"] = {k: alone[k] for k in ("txs_per_block", "p50_ms", "p99_ms", "raw_p50_ms", "raw_p99_ms")}
                result["unwatched_cost"] = round(result["p50_ms"] / alone["p50_ms"] - 1, 3)
            results.append(result)
    return {"blocks_per_level": blocks, "accounts": accounts, "levels": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default=LEVELS, help=f"N:watched-share per level, comma-separated (default {LEVELS})")
    parser.add_argument("--blocks", type=int, default=60, help="1-second blocks per level (default 60)")
    parser.add_argument("--accounts", type=int, default=400, help="sending accounts (default 400)")
    args = parser.parse_args()
    try:
        print(json.dumps(run_load(args.levels, args.blocks, args.accounts)))
    except (ConfigError, ToolchainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
