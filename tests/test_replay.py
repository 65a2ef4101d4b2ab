"""`watchdog replay` over a devnet run reports the same findings the live follower stored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from fixtures.detect.kit import E, USD, lending_world  # noqa: F401

from watchdog.cli import app
from watchdog.config import load_settings
from watchdog.daemon.core import Daemon
from watchdog.store import FindingRecord

ROOT = Path(__file__).resolve().parents[1]
USER_RULE = '''
from watchdog.detect import Rule, Severity

class BigSupply(Rule):
    id = "big-supply"
    severity = Severity.INFO

    def on_tx(self, ctx):
        if ctx.tx.to == ctx.registry.resolve("Lending").address and ctx.tx.input.startswith("0x35403023"):
            yield ctx.finding(description="supply", addresses=[ctx.tx.sender])
'''


@pytest.fixture
def world(lending_world):
    return lending_world


def cli(*args: str) -> subprocess.CompletedProcess:
    """The real console entry point, in a process of its own."""
    return subprocess.run([sys.executable, "-m", "watchdog", "replay", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def run_replay(*args: str):
    """The same command in this process (quicker); a user error is one `error:` line and exit code 2."""
    return CliRunner().invoke(app, ["replay", *args])


def write_config(world, tmp_path: Path, first: int) -> Path:
    world.manifest(tmp_path)
    (tmp_path / "my_rules").mkdir()
    (tmp_path / "my_rules" / "supply.py").write_text(USER_RULE)
    config = tmp_path / "watchdog.toml"
    config.write_text(f'''
[networks.devnet]
chain_id = 31337
rpc_urls = ["{world.node.url}"]
start_block = {first}

[protocols.lending]
manifest = "manifest.json"

[rules]
rule_dirs = ["my_rules"]

[rules.drain]
min_value = 5000

[store]
url = "sqlite:///live.db"
''')
    return config


def test_replay_of_a_range_matches_what_the_live_follower_stored(world, anvil, tmp_path):
    first = world.head() + 1
    config = write_config(world, tmp_path, first)
    settings = load_settings(config)
    daemon = Daemon(settings)
    follower = daemon.networks["devnet"].follower
    send = world.send

    def live(*action) -> str:
        tx = send(*action[0], **action[1]) if isinstance(action[0], tuple) else send(*action)
        follower.run_until(world.head())  # the live daemon follows each block as it comes
        return tx

    attack = live((world.spot_attacker, "attack(uint256,uint256)", 3_000_000 * E, 950_000 * E), {"sender": world.attacker})
    live((world.arbitrageur, "arbitrage(address,address,address,address,uint256)", world.pair, world.pair2,
          world.eth, world.usd, 2 * E), {"sender": world.arber})
    live(world.feed, "updateAnswer(int256)", 2240 * USD)
    live(world.lending, "setLtv(uint256)", 70)
    live(world.proxy, "sneakyUpgrade(address)", world.accounts[7])
    world.mint(world.usd, world.lp, 10_000 * E)
    live((world.lending, "supply(uint256)", 10_000 * E), {"sender": world.lp})
    for _ in range(3):
        live(world.trader, "sell(address,address,uint256)", world.pair, world.usd, 80_000 * E)
    last = world.head()
    with daemon.store.session() as s:
        stored = list(s.exec(select(FindingRecord)))
    assert {r.rule_id.split(".")[0] for r in stored} >= {"flash-loan", "drain", "price-manipulation", "oracle-health",
                                                         "privileged-change", "big-supply"}

    done = cli("-c", str(config), "--range", f"{first}:{last}", "--json")
    assert done.returncode == 0, done.stderr
    replayed = json.loads(done.stdout)
    assert sorted(r["dedup_key"] for r in replayed) == sorted(r.dedup_key for r in stored)
    live_view = {r.dedup_key: (r.rule_id, r.severity, r.tx_hash, r.block_number) for r in stored}
    assert {r["dedup_key"]: (r["rule_id"], r["severity"], r["tx_hash"], r["block_number"]) for r in replayed} == live_view

    one_tx = run_replay("-c", str(config), "--tx", attack, "--json")
    assert one_tx.exit_code == 0, one_tx.output
    assert {r["rule_id"] for r in json.loads(one_tx.stdout)} == {
        "flash-loan.protocol", "drain.tx", "price-manipulation.round-trip", "price-manipulation.consumed-price"}
    assert {r["tx_hash"] for r in json.loads(one_tx.stdout)} == {attack}


def test_replay_without_a_config_and_as_a_table(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.lending, "sweep(address,address,uint256)", world.usd, world.accounts[9], 990_000 * E)
    manifest = world.manifest(tmp_path)
    done = run_replay("--manifest", str(manifest), "--rpc", world.node.url, "--block", str(first))
    assert done.exit_code == 0, done.output
    assert "drain.tx" in done.stdout and "critical" in done.stdout
    quiet = run_replay("--manifest", str(manifest), "--rpc", world.node.url, "--block", str(first - 1))
    assert quiet.exit_code == 0 and "no findings" in quiet.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--range", "9:x"], "--range '9:x': write it as A:B"),
    (["--block", "1", "--range", "1:2"], "exactly one of --tx HASH, --block N, --range A:B"),
    (["--tx", "0x" + "ab" * 32], "does not know this transaction"),
])
def test_replay_input_errors_are_one_line(world, tmp_path, args, message):
    done = run_replay("--manifest", str(world.manifest(tmp_path)), "--rpc", world.node.url, *args)
    assert done.exit_code == 2 and message in done.output


def test_replay_user_error_exits_2_with_one_red_line(world, tmp_path):
    done = cli("--manifest", str(world.manifest(tmp_path)), "--rpc", world.node.url, "--range", "5:1")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == ["error: --range 5:1: the first block must be >= 0 and <= the last"]
