"""The protocol model learned from the chain alone: on the Harbor world (a roles-only manifest, no hint) each holder
consumes exactly the price sources its contract reads, derived sources are followed to their pools, claims held as
collateral make dependants, the quote asset comes from the protocols' accounting and feeds learn their cadence from
their own rounds; `watchdog protocol show` prints the same; the demo world stripped of its hints learns the same
model as with them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchdog.chain.reader import BlockReader
from watchdog.cli import app
from watchdog.chain.rpc import RpcClient
from watchdog.detect.model import ProtocolModel, Prober
from watchdog.detect.reads import ChainReads
from watchdog.detect.registry import ProtocolRegistry
from watchdog.devnet import Anvil
from watchdog.devnet import world2 as harbor
from watchdog.devnet.world import World
from watchdog.devnet.world2 import HarborWorld
from watchdog.manifest import Manifest, load_manifest

WATCHDOG = Path(sys.executable).parent / "watchdog"  # the console script of this environment
HINTS = {"asset", "reference", "pair", "heartbeat", "quote"}


@pytest.fixture
def hw(harbor_world: HarborWorld) -> HarborWorld:
    return harbor_world


def learn(rpc_url: str, manifest: Manifest) -> ProtocolModel:
    client = RpcClient(rpc_url)
    try:
        head = int(client.call("eth_blockNumber"), 16)
        return Prober(ProtocolRegistry(manifest), ChainReads(BlockReader(client, "test", head), {}), head).learn()
    finally:
        client.close()


def at(world: HarborWorld | World, name: str) -> str:
    return world.addresses[name].lower()


def uses_by_name(model: ProtocolModel) -> dict[str, set[str]]:
    names = {s.address: s.name for s in model.sources.values()}
    return {h.name: {names[u.source] for u in h.uses} for h in model.holders.values()}


def show(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # tables as wide as a terminal would show them
    return subprocess.run([str(WATCHDOG), "protocol", "show", *args], capture_output=True, text=True, timeout=120, env=env)


# --- Harbor: a roles-only manifest ---

def test_each_holder_consumes_what_its_contract_reads(hw: HarborWorld) -> None:
    assert not [c for c in json.loads(hw.manifest_path.read_text())["contracts"] if HINTS & set(c)]
    model = learn(hw.rpc_url, hw.manifest)
    assert uses_by_name(model) == {"CreditPool": {"UniswapWethUsd"}, "OptionsHouse": {"HbrTwap"},
                                   "PerpExchange": {"EthUsdFeed", "BtcUsdFeed"}, "SavingsVault": set(), "TermVault": set()}
    # each use is what the contract's own views answer, under the key it is read by
    credit, weth = hw.contract("CreditPool"), hw.addresses["WETH"]
    (use,) = model.holders[at(hw, "CreditPool")].uses
    assert (use.source, use.key) == (credit.functions.collateralConfig(weth).call()[1].lower(), weth.lower())
    (use,) = model.holders[at(hw, "OptionsHouse")].uses
    assert use.source == hw.contract("OptionsHouse").functions.oracle().call().lower() == at(hw, "HbrTwap")
    perps = hw.contract("PerpExchange")
    by_market = {u.key: u.source for u in model.holders[at(hw, "PerpExchange")].uses}
    assert set(by_market) == set(harbor.MARKETS.values())
    for market, feed in by_market.items():
        assert feed in {a.lower() for a in perps.functions.markets(bytes.fromhex(market[2:])).call() if isinstance(a, str)}


def test_derived_sources_are_followed_to_their_pools(hw: HarborWorld) -> None:
    model = learn(hw.rpc_url, hw.manifest)
    twap, pool = model.sources[at(hw, "HbrTwap")], at(hw, "UniswapHbrUsd")
    assert twap.kind == "derived" and twap.inputs == [pool]
    assert model.consumers(pool) == model.consumers(twap.address) == {at(hw, "OptionsHouse")}
    assert (twap.base, twap.quote) == (at(hw, "HBR"), at(hw, "hUSD"))
    kinds = {s.name: s.kind for s in model.sources.values()}
    assert kinds == {"UniswapWethUsd": "pair", "ForkSwapWethUsd": "pair", "UniswapHbrUsd": "pair", "EthUsdFeed": "feed",
                     "BtcUsdFeed": "feed", "HbrTwap": "derived"}
    assert model.consumers(at(hw, "ForkSwapWethUsd")) == set()  # a venue no protocol prices on


def test_holdings_claims_and_the_quote_asset(hw: HarborWorld) -> None:
    model = learn(hw.rpc_url, hw.manifest)
    assert model.quote == at(hw, "hUSD")
    credit = model.holders[at(hw, "CreditPool")]
    for token in ("hUSD", "WETH", "SavingsVault"):
        assert credit.holds[at(hw, token)] == hw.contract(token).functions.balanceOf(hw.addresses["CreditPool"]).call() > 0
    savings, term = model.holders[at(hw, "SavingsVault")], model.holders[at(hw, "TermVault")]
    assert savings.claim_token == savings.address and term.claim_token == term.address
    assert model.dependants(savings.address) == {credit.address}  # its shares are collateral in the credit pool
    assert model.dependants(term.address) == set()  # nobody holds the new vault's shares
    assert model.dependants(credit.address) == set()
    assert hw.contract("CreditPool").functions.owner().call().lower() in credit.owners


def test_feeds_learn_their_cadence_from_enough_rounds(hw: HarborWorld) -> None:
    before = learn(hw.rpc_url, hw.manifest)
    assert before.sources[at(hw, "EthUsdFeed")].heartbeat is None  # too few rounds: nothing claimed
    feed = hw.contract("EthUsdFeed")
    answer = feed.functions.latestRoundData().call()[1]
    for gap, move in zip([600, 900, 1_200, 600, 900, 600, 1_800, 600, 900, 600], [1.02, 0.99, 1.03] * 4):
        hw.warp(gap)
        answer = int(answer * move)
        hw.send(feed.functions.transmit(answer), hw.accounts.keeper)
    model = learn(hw.rpc_url, hw.manifest)
    learned = model.sources[at(hw, "EthUsdFeed")]
    latest = feed.functions.latestRoundData().call()[0]
    times = [feed.functions.getRoundData(round_id).call()[3] for round_id in range(1, latest + 1)]  # every round
    longest = max(b - a for a, b in zip(times, times[1:]))
    assert longest <= learned.heartbeat < 2 * longest  # every gap it has shown fits, with a margin
    assert learned.deviation == pytest.approx(0.01, rel=0.05)  # the smallest move it published
    assert model.sources[at(hw, "BtcUsdFeed")].heartbeat is None  # its history is still short


def test_protocol_show_prints_the_same_model(hw: HarborWorld) -> None:
    args = ["--manifest", str(hw.manifest_path), "--rpc", hw.rpc_url]
    done = show(*args, "--json")
    assert done.returncode == 0, done.stderr
    printed, learned = ProtocolModel.from_json(json.loads(done.stdout)), learn(hw.rpc_url, hw.manifest)
    assert uses_by_name(printed) == uses_by_name(learned)
    assert printed.quote == learned.quote and set(printed.sources) == set(learned.sources)
    assert printed.dependants(at(hw, "SavingsVault")) == {at(hw, "CreditPool")}

    chart = show(*args, "--mermaid").stdout
    node = {name: key for key, name in re.findall(r'^\s*(n\d+)\(?\["(\w+) \(', chart, re.M)}
    assert chart.startswith("flowchart LR") and set(node) >= {"CreditPool", "OptionsHouse", "HbrTwap", "UniswapHbrUsd"}
    assert f"{node['OptionsHouse']} -->|oracle| {node['HbrTwap']}" in chart
    assert f"{node['HbrTwap']} --> {node['UniswapHbrUsd']}" in chart
    assert f"{node['CreditPool']} -. holds claims .-> {node['SavingsVault']}" in chart

    done = show("NoSuchThing", *args)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "'NoSuchThing' is neither a protocol nor" in done.stderr


def test_protocol_show_selects_one_holder_or_a_sources_consumers(hw: HarborWorld) -> None:
    args = ["protocol", "show", "--manifest", str(hw.manifest_path), "--rpc", hw.rpc_url]
    runner = CliRunner(env={"COLUMNS": "200"})
    part = ProtocolModel.from_json(json.loads(runner.invoke(app, [*args, "OptionsHouse", "--json"]).stdout))
    assert set(part.holders) == {at(hw, "OptionsHouse")} and set(part.sources) == {at(hw, "HbrTwap"), at(hw, "UniswapHbrUsd")}
    part = ProtocolModel.from_json(json.loads(runner.invoke(app, [*args, "UniswapHbrUsd", "--json"]).stdout))
    assert set(part.holders) == {at(hw, "OptionsHouse")}  # the pool's consumer, through the TWAP
    table = runner.invoke(app, [*args, "PerpExchange"]).stdout
    assert "EthUsdFeed" in table and "BtcUsdFeed" in table and "CreditPool" not in table and "at risk (hUSD)" in table
    assert runner.invoke(app, ["protocol", "show", "--help"]).exit_code == 0
    missing = runner.invoke(app, ["protocol", "show", "--manifest", str(hw.manifest_path)])
    assert missing.exit_code == 2 and "--rpc" in missing.output  # one error line


# --- the demo world without its hints ---

def test_demo_world_without_hints_learns_the_same_sources(world: World, anvil: Anvil) -> None:
    raw = json.loads(world.manifest_path.read_text())
    stripped = {k: v for k, v in raw.items() if k not in HINTS}
    stripped["contracts"] = [{k: v for k, v in c.items() if k not in HINTS} for c in raw["contracts"]]
    path = world.manifest_path.parent / "stripped.json"  # beside the original: its ABI paths stay valid
    path.write_text(json.dumps(stripped))
    manifest = load_manifest(path)
    assert ProtocolRegistry(manifest).quote is None
    hinted, model = learn(anvil.url, world.manifest), learn(anvil.url, manifest)
    assert uses_by_name(model) == uses_by_name(hinted) == {"PerpMarket": {"OracleAdapter"}, "CollateralVault": set()}
    adapter = model.sources[at(world, "OracleAdapter")]
    assert set(adapter.inputs) == {at(world, "ETH-USD-Feed"), at(world, "WETH-dUSD"), at(world, "TwapOracle")}
    assert model.sources[at(world, "TwapOracle")].inputs == [at(world, "WETH-dUSD")]
    assert model.consumers(at(world, "ETH-USD-Feed")) == {at(world, "PerpMarket")}
    assert model.consumers(at(world, "WETH-dUSD-AltSwap")) == set()
    assert model.quote == at(world, "dUSD")  # learned from the vault's accounting, not from a `quote` key
    assert model.sources[at(world, "ETH-USD-Feed")].base == at(world, "WETH")
    assert at(world, "Safe") in model.holders[at(world, "PerpMarket")].owners
