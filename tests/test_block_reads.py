"""Reading live blocks by their watched activity, on the demo world: block traces give the call tracer's frames,
state reads of a block go out in one batch, and every block's latency from mined to committed is recorded."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from watchdog.chain import parse, traces
from watchdog.chain.abi import AbiRegistry
from watchdog.chain.reader import TRACER
from watchdog.chain.rpc import RpcClient
from watchdog.detect import Engine
from watchdog.devnet import Anvil
from watchdog.devnet.world import E18, World
from watchdog.metrics import Metrics
from watchdog.pipeline import Follower, FollowerOptions
from watchdog.scenarios.demo.traffic import _arbitrageur
from watchdog.store import Store

DEADLINE = 2**40
STATE_READS = {"eth_call", "eth_getBalance", "eth_getStorageAt"}


def _shape(frame) -> list[tuple]:
    """What rules read of a trace: every frame's kind, ends, calldata, value and whether it reverted."""
    return [(f.type, f.sender, f.to, f.input, f.value, bool(f.error)) for f in frame.walk()]


def test_block_traces_give_the_frames_of_the_call_tracer(world: World, anvil: Anvil) -> None:
    weth, usd = world.addresses["WETH"], world.addresses["dUSD"]
    router = world.contract("UniswapV2Router02")
    trader = world.accounts.trader1
    swap = world.send(router.functions.swapExactETHForTokens(0, [weth, usd], trader.address, DEADLINE), trader.name,
                      value=60 * E18)  # the main venue's WETH is now cheaper than the other's
    arbitrage = world.send(_arbitrageur(world).functions.arbitrage(world.addresses["WETH-dUSD"],
                                                                   world.addresses["WETH-dUSD-AltSwap"], weth, E18), "keeper")
    rpc = RpcClient(anvil.url)
    for receipt in (swap, arbitrage):
        tx_hash, number = receipt["transactionHash"].to_0x_hex(), receipt["blockNumber"]
        grouped = traces.group_parity(rpc.call("trace_block", [hex(number)]))
        from_block = traces.frame(grouped[tx_hash], tx_hash, number)
        from_tracer = parse.call_frame(rpc.call("debug_traceTransaction", [tx_hash, TRACER]), tx_hash, number)
        assert from_block is not None and _shape(from_block) == _shape(from_tracer)
    callbacks = [f for f in traces.frame(grouped[tx_hash], tx_hash, number).walk() if f.input.startswith("0x10d1e85c")]
    assert callbacks, "the flash swap calls the borrower back (uniswapV2Call)"


def test_live_blocks_read_their_state_in_one_batch_and_time_every_block(world: World, anvil: Anvil, tmp_path: Path) -> None:
    vault, trader = world.contract("CollateralVault"), world.accounts.trader1
    requests: list[set[str]] = []
    metrics = Metrics()

    def count(calls: list) -> None:
        metrics.rpc_calls_hook(calls)
        requests.append({method for method, _ in calls})

    rpc = RpcClient(anvil.url, on_calls=count)
    store = Store(f"sqlite:///{tmp_path / 'watchdog.db'}")
    engine = Engine("devnet", world.manifest, store, metrics_registry=CollectorRegistry())
    registry = AbiRegistry()
    registry.add_manifest(world.manifest)
    follower = Follower("devnet", rpc, store, engine, {c.address.lower() for c in world.manifest.contracts}, registry,
                        FollowerOptions(start_block=anvil.block_number() + 1), metrics=metrics)
    for amount in (1, 2, 3):
        world.send(vault.functions.deposit(amount * E18), trader.name)
        requests.clear()
        follower.run_until()
    # the third block's reads were all asked before: one request carries every balance, slot and view it needs
    assert sum(1 for methods in requests if methods & STATE_READS) == 1
    assert metrics.registry.get_sample_value("watchdog_rpc_calls_total", {"method": "trace_block"}) == 3
    assert not metrics.registry.get_sample_value("watchdog_rpc_calls_total", {"method": "debug_traceTransaction"})
    timed = metrics.registry.get_sample_value("watchdog_block_to_store_seconds_count", {"network": "devnet"})
    assert timed == 3 and follower.checkpoint == anvil.block_number()
    follower.close()
    store.close()
