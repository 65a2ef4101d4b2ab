"""What-if scenarios on a fork, asserted against the protocols' own arithmetic: on the demo world a 30% fall of WETH
liquidates exactly the positions below maintenance and leaves exactly their negative equity as bad debt; a pause
blocks those liquidations and freezes every trader; on Harbor a shock liquidates the borrowers whose debt passes the
credit pool's liquidation limit at the pool's new price and the perp traders below maintenance, the seized WETH is
sold through the real pools, a stopped feed hides the liquidations its market cannot see, and a halted bridge route
hides them on the bridged-collateral market. Scenario and command-line mistakes are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address
from typer.testing import CliRunner

from watchdog.cli import app
from watchdog.devnet import Anvil
from watchdog.devnet import world2 as harbor
from watchdog.devnet.bridge import Relayer, deploy_bridge_world, scenarios as bridge
from watchdog.devnet.world import E18, World
from watchdog.devnet.world2 import HarborWorld
from watchdog.errors import ConfigError
from watchdog.stress import StressRun, load, parse

# (size in WETH, margin in dUSD) of the demo traders' positions, all opened at 3,000
POSITIONS = [(10, 5_000), (10, 8_000), (5, 6_000), (-10, 4_000), (20, 20_000)]
MAINTENANCE = 0.05  # PerpMarket.maintenanceMarginBps
WATCHDOG = Path(sys.executable).parent / "watchdog"  # the console script of this environment
ROOT = Path(__file__).resolve().parents[1]


def trader(n: int) -> str:
    return "0x" + keccak(text=f"stress trader {n}")[-20:].hex()


def act(world: World | HarborWorld, sender: str, call: Any) -> None:
    """Send `call` as `sender` (impersonated on the test anvil)."""
    w3 = world.w3
    w3.provider.make_request("anvil_impersonateAccount", [sender])
    w3.provider.make_request("anvil_setBalance", [sender, hex(10 * E18)])
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": to_checksum_address(sender)}))
    assert receipt["status"] == 1


def open_positions(world: World) -> list[str]:
    usd, vault, market = world.contract("dUSD"), world.contract("CollateralVault"), world.contract("PerpMarket")
    accounts = []
    for n, (size, margin) in enumerate(POSITIONS):
        account = trader(n)
        world.send(usd.functions.mint(to_checksum_address(account), 100_000 * E18), "deployer")
        act(world, account, usd.functions.approve(vault.address, 2**256 - 1))
        act(world, account, vault.functions.deposit(50_000 * E18))
        act(world, account, market.functions.openPosition(size * E18, margin * E18))
        accounts.append(account)
    return accounts


def source(scenario: dict[str, Any], name: str) -> float:
    return next(s["after"] for s in scenario["sources"] if s["source"] == name)


def holder(scenario: dict[str, Any], name: str) -> dict[str, Any]:
    return next(h for h in scenario["holders"] if h["holder"] == name)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in report["scenarios"]}


# --- the demo world, through the command line --------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(anvil_session: Anvil, world: World,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], list[str], World, Path]]:
    """One run of `watchdog stress` over the demo world with five open positions (reverted afterwards)."""
    snapshot = anvil_session.snapshot()
    accounts = open_positions(world)
    folder = tmp_path_factory.mktemp("demo-stress")
    (folder / "more.toml").write_text('[[scenario]]\nkind = "stop"\ntarget = "ETH-USD-Feed"\nmove = "-30%"\n')
    result = CliRunner().invoke(app, ["stress", "--rpc", anvil_session.url, "--manifest", str(world.manifest_path),
                                      "shock:WETH:-10%,-30%", "pause:PerpMarket:WETH:-30%",
                                      "--scenarios", str(folder / "more.toml"),
                                      "--format", "json", "--out", str(folder / "out")])
    assert result.exit_code == 0, result.output
    yield json.loads(result.stdout), accounts, world, folder / "out"
    anvil_session.revert(snapshot)


def expected(world: World, accounts: list[str], price: float) -> tuple[set[str], float]:
    """The positions below maintenance at `price` and their negative equity, from the market's own state."""
    market = world.contract("PerpMarket")
    below, bad = set(), 0.0
    for account in accounts:
        size, margin, entry = (v / E18 for v in market.functions.positionOf(to_checksum_address(account)).call())
        equity = margin + size * (price - entry)
        if equity < abs(size) * price * MAINTENANCE:
            below.add(account)
        bad += max(0.0, -equity)
    return below, bad


def test_a_30_percent_fall_liquidates_exactly_the_positions_below_maintenance(demo) -> None:
    report, accounts, world, _ = demo
    crash = by_name(report)["WETH -30%"]
    price = source(crash, "OracleAdapter")  # what the market reads: the pool's spot price, moved by real swaps
    assert price == pytest.approx(2_100, rel=1e-6)
    assert [source(crash, n) for n in ("WETH-dUSD", "WETH-dUSD-AltSwap", "ETH-USD-Feed")] == pytest.approx([2_100] * 3, rel=1e-6)
    below, bad = expected(world, accounts, price)
    assert below == {trader(0), trader(1), trader(4)}  # the fixture's positions straddle the line on purpose
    market = holder(crash, "PerpMarket")
    assert set(market["liquidatable"]) == set(market["newly_liquidatable"]) == set(market["liquidated"]) == below
    assert market["bad_debt"] == pytest.approx(bad, abs=0.01) == 5_000
    assert market["bad_debt_accounts"] == {trader(0): 4_000, trader(1): 1_000}
    assert market["coverage"]["buffers"] == {"CollateralVault.poolAssets": 2_000_000}  # the LP pool behind the market
    assert market["coverage"]["uncovered"] == 0 and crash["bad_debt"] == 5_000
    assert market["methods"] == {"equity": "positionOf().margin + unrealizedPnl()", "liquidation": "liquidate(address) simulated"}
    vault = next(h for h in report["holders"] if h["holder"] == "CollateralVault")
    assert vault["gaps"] and "bad debt not evaluated" in vault["gaps"][0]  # said, not guessed

    mild = by_name(report)["WETH -10%"]
    assert holder(mild, "PerpMarket")["liquidatable"] == [] and mild["bad_debt"] == 0
    assert expected(world, accounts, source(mild, "OracleAdapter"))[0] == set()


def test_a_pause_blocks_those_liquidations_and_freezes_every_trader(demo) -> None:
    report, accounts, world, _ = demo
    paused = by_name(report)["PerpMarket paused, WETH -30%"]
    assert paused["paused"][0]["contract"] == "PerpMarket" and paused["paused"][0]["paused"]
    market = holder(paused, "PerpMarket")
    assert set(market["blocked"]) == {trader(0), trader(1), trader(4)} and market["liquidated"] == []
    equity = sum(max(0.0, m + s * (2_100 - 3_000)) for s, m in POSITIONS)
    assert market["frozen_users"] == {"accounts": len(accounts), "equity": pytest.approx(equity, abs=0.01)}
    assert market["bad_debt"] == 5_000  # the same positions, now waiting for the pause to end


def test_a_stopped_feed_the_market_does_not_read_hides_nothing(demo) -> None:
    report, *_ = demo
    stop = by_name(report)["ETH-USD-Feed stops, asset -30%"]
    assert stop["hold_seconds"] > 0
    feed = next(s for s in stop["sources"] if s["source"] == "ETH-USD-Feed")
    assert feed["stopped"] and feed["after"] == feed["before"]
    # the market reads the pool's spot price, which moved: its liquidations are visible, nothing is hidden
    assert set(holder(stop, "PerpMarket")["liquidatable"]) == {trader(0), trader(1), trader(4)}
    assert holder(stop, "PerpMarket")["hidden"] == []


def test_the_report_in_markdown_json_and_a_chart(demo) -> None:
    report, _, _, out = demo
    assert json.loads((out / "report.json").read_text())["block"] == report["block"]
    markdown = (out / "report.md").read_text()
    assert "| WETH -30% | 3 | 3 | 0 | 0 | 5,000.00 | 0.00 |" in markdown and "![Loss against the size" in markdown
    chart = (out / "chart.svg").read_text()
    assert chart.startswith("<svg") and chart.count("<polyline") == 2 and "-30%" in chart and "-10%" in chart


def watchdog(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WATCHDOG), *args], capture_output=True, text=True, timeout=120)


def test_scenario_mistakes_are_one_line(anvil: Anvil, world: World) -> None:
    manifest = str(world.manifest_path)
    for args, message in ((["--rpc", anvil.url, "shock:GOLD:-30%"], "'GOLD' is not a token the protocol model knows: use one of"),
                          (["--rpc", anvil.url], "no scenario: give one such as shock:WETH:-30%"),
                          (["shock:WETH:-30%"], "--manifest needs --rpc URL"),
                          (["--rpc", anvil.url, "pause:Nowhere"], "'Nowhere' is neither a contract nor a protocol")):
        done = watchdog("stress", "--manifest", manifest, *args)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_scenarios_from_the_command_line_and_toml(tmp_path: Path) -> None:
    assert [(s.kind, s.target, s.move) for s in parse("shock:WETH:-10%,-20")] == [("shock", "WETH", -0.1), ("shock", "WETH", -0.2)]
    (pause,) = parse("pause:CreditPool:WETH:+15%")
    assert (pause.kind, pause.target, pause.asset, pause.move, pause.name) == ("pause", "CreditPool", "WETH", 0.15,
                                                                               "CreditPool paused, WETH +15%")
    for bad, message in (("crash:WETH:-30%", "unknown kind"), ("shock:WETH", "write it as shock:ASSET:MOVE"),
                         ("shock:WETH:-30x", "is not a move"), ("shock:WETH:-100%", "above -100%"),
                         ("pause:CreditPool:WETH", r"write it as pause:CONTRACT\[:ASSET:MOVE\]")):
        with pytest.raises(ConfigError, match=message):
            parse(bad)
    path = tmp_path / "s.toml"
    path.write_text('[[scenario]]\nname = "eth crash"\nkind = "shock"\ntarget = "WETH"\nmoves = ["-10%", "-20%"]\nhold = 600\n')
    assert [(s.name, s.move, s.hold) for s in load(path)] == [("eth crash (-10%)", -0.1, 600), ("eth crash (-20%)", -0.2, 600)]
    for text, message in (('[[scenario]]\nkind = "shock"\ntarget = "WETH"\nmove = -0.3\n', "quoted percentages"),
                          ('[[scenario]]\nkind = "shock"\ntarget = "WETH"\n', "a shock needs `move`"),
                          ('[[scenario]]\nkind = "shock"\ntarget = "WETH"\nmove = "-3%"\nspeed = 1\n', "unknown key 'speed'"),
                          ("x = 1\n", r"no \[\[scenario\]\] table")):
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load(path)


# --- Harbor (world #2) ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def harbor_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], HarborWorld]]:
    with Anvil() as node:
        world = harbor.harbor_on_anvil(node, tmp_path_factory.mktemp("harbor"))
        report = StressRun(world.manifest, node.url).run(
            parse("shock:WETH:-30%,-40%,-50%") + parse("stop:EthUsdFeed:-30%") + parse("pause:CreditPool:WETH:-40%"))
        yield report, world


def borrowers_over_the_limit(world: HarborWorld, price: float) -> tuple[set[str], float]:
    """WETH borrowers whose debt passes the credit pool's liquidation limit at `price`, and the debt their collateral
    no longer covers, from the pool's own state and configuration."""
    credit, weth = world.contract("CreditPool"), world.addresses["WETH"]
    share = credit.functions.collateralConfig(weth).call()[3] / 10_000
    over, bad = set(), 0.0
    for user in world.accounts.users[:10]:
        held = credit.functions.collateralOf(user.address, weth).call() / E18 * price
        debt = credit.functions.debtOf(user.address).call() / harbor.USD
        if debt > held * share:
            over.add(user.address.lower())
        bad += max(0.0, debt - held)
    return over, bad


def perp_longs_below_maintenance(world: HarborWorld, price: float) -> tuple[set[str], float]:
    perps, market = world.contract("PerpExchange"), bytes.fromhex(harbor.MARKETS["ETH-PERP"][2:])
    maintenance = perps.functions.markets(market).call()[3] / 10_000
    below, bad = set(), 0.0
    for user in world.accounts.users[10:20]:
        size, margin, entry = perps.functions.positions(market, user.address).call()
        if not size:
            continue
        equity = margin / harbor.USD + size / E18 * (price - entry / harbor.USD)
        if equity < abs(size) / E18 * price * maintenance:
            below.add(user.address.lower())
        bad += max(0.0, -equity)
    return below, bad


def test_harbor_shocks_liquidate_what_the_protocols_own_rules_say(harbor_run) -> None:
    report, world = harbor_run
    scenarios = by_name(report)
    for name in ("WETH -30%", "WETH -40%", "WETH -50%"):
        shock = scenarios[name]
        pool_price, feed_price = source(shock, "UniswapWethUsd"), source(shock, "EthUsdFeed")
        over, credit_bad = borrowers_over_the_limit(world, pool_price)
        below, perp_bad = perp_longs_below_maintenance(world, feed_price)
        credit, perps = holder(shock, "CreditPool"), holder(shock, "PerpExchange")
        assert set(credit["liquidatable"]) == set(credit["liquidated"]) == over, name
        assert set(perps["liquidatable"]) == set(perps["liquidated"]) == below, name
        assert credit["bad_debt"] == pytest.approx(credit_bad, abs=1.0), name  # interest accrues between the reads
        assert perps["bad_debt"] == pytest.approx(perp_bad, abs=0.01), name
    assert len(holder(scenarios["WETH -40%"], "CreditPool")["liquidated"]) == 6
    assert holder(scenarios["WETH -50%"], "CreditPool")["bad_debt"] == pytest.approx(28_500, abs=5)
    assert holder(scenarios["WETH -50%"], "PerpExchange")["bad_debt"] == pytest.approx(3 * 5_030, abs=0.01)
    # the credit pool has no loss buffer: its bad debt is not covered; the perp pool's liquidity covers the traders'
    assert holder(scenarios["WETH -50%"], "CreditPool")["coverage"]["uncovered"] == pytest.approx(28_500, abs=5)
    assert holder(scenarios["WETH -50%"], "PerpExchange")["coverage"]["uncovered"] == 0


def test_harbor_seized_collateral_is_sold_through_the_real_pools(harbor_run) -> None:
    report, _ = harbor_run
    (sale,) = by_name(report)["WETH -50%"]["liquidations"]["sales"]
    assert sale["token"] == "WETH" and sale["pool"] == "ForkSwapWethUsd"  # the deeper venue
    assert sale["amount"] > 0 and 0 < sale["proceeds"] < sale["value"] and sale["slippage"] > 0.05
    assert 0 < sale["absorbable"] < sale["amount"]  # more than the pools take within 5%
    assert sale["price_after"] < 1_500
    before = report["value_at_risk"]["protocol"]
    assert by_name(report)["WETH -50%"]["value_at_risk"]["protocol"] < before  # the credit pool's WETH is worth less


def test_harbor_stopped_feed_hides_the_liquidations_its_market_cannot_see(harbor_run) -> None:
    report, world = harbor_run
    stop = by_name(report)["EthUsdFeed stops, asset -30%"]
    perps = holder(stop, "PerpExchange")
    assert perps["liquidatable"] == []  # the exchange still marks at the stopped feed's price
    assert set(perps["hidden"]) == perp_longs_below_maintenance(world, 2_100)[0] and len(perps["hidden"]) == 3
    assert stop["hold_seconds"] == 7_200  # no heartbeat learned from a short history: two hours


def test_harbor_pause_blocks_the_credit_pool_liquidations(harbor_run) -> None:
    report, world = harbor_run
    paused = by_name(report)["CreditPool paused, WETH -40%"]
    credit = holder(paused, "CreditPool")
    assert credit["paused"] and credit["liquidated"] == []
    assert set(credit["blocked"]) == set(holder(by_name(report)["WETH -40%"], "CreditPool")["liquidated"])
    borrowers = {u.address.lower() for u in world.accounts.users[:10] + world.accounts.users[20:25]}
    assert credit["frozen_users"]["accounts"] == len(borrowers)
    assert holder(paused, "PerpExchange")["liquidated"]  # the perp exchange is not paused: its liquidations go on


def test_harbor_reports_what_it_cannot_evaluate(harbor_run) -> None:
    report, _ = harbor_run
    holders = {h["holder"]: h for h in report["holders"]}
    assert holders["CreditPool"]["methods"]["equity"] == "collateralOf valued by valueOf() - debtOf()"
    assert holders["PerpExchange"]["methods"]["equity"] == "equityOf(bytes32,address)"
    assert len(holders["OptionsHouse"]["gaps"]) == 2 and holders["CreditPool"]["gaps"] == []


# --- a bridge route halted ------------------------------------------------------------------------------------

def test_a_halted_route_hides_the_liquidations_of_the_bridged_collateral(tmp_path: Path) -> None:
    with Anvil(chain_id=31337) as home, Anvil(chain_id=31338) as remote:
        world = deploy_bridge_world(home, remote, tmp_path)
        bridge.bridge_out(world, "trader1", 1_000 * E18)
        bridge.relay_until_idle(world, Relayer(world, delay_blocks=1))
        market = world.remote.contract("BridgedCollateralMarket")
        world.remote.send(market.functions.depositCollateral(1_000 * E18), "trader1")
        borrower = world.accounts["trader1"].address
        limit = market.functions.borrowLimit(borrower, market.functions.loanToValueBps().call(),
                                             market.functions.price().call()).call()
        world.remote.send(market.functions.borrow(limit), "trader1")
        report = StressRun(world.remote.manifest, remote.url).run(parse("halt:BridgeMinter:-30%"))
    (halt,) = report["scenarios"]
    assert {p["contract"] for p in halt["paused"] if p["paused"]} == {"BridgeMinter", "BridgeMinterV1"}  # the route
    (relayed,) = [s for s in halt["sources"] if s["stopped"]]
    assert relayed["source"] == "ALP-USD-Relayed" and relayed["after"] == relayed["before"]
    held = holder(halt, "BridgedCollateralMarket")
    assert held["liquidatable"] == [] and held["hidden"] == [borrower.lower()]


def test_the_benchmark_prints_its_figures() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stress.py"), "--scenarios", "2"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"learn_model_s", "setup_s", "run_s", "per_scenario_s", "run_vs_learn_model", "under_a_minute"} <= set(figures)
    assert figures["scenarios"] == 2 and figures["accounts"] > 0
