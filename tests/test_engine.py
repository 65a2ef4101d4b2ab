"""The engine: user rule directories (the README example), isolation of a failing rule, configuration errors,
allowlists, disabled rules, state across a restart, and pending transactions seen in the mempool."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlmodel import select

from fixtures.detect.kit import E, World, by_rule, follow, lending_world  # noqa: F401

from watchdog.chain.abi import AbiRegistry
from watchdog.pipeline.mempool import MempoolFollower
from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient, RpcUnavailable
from watchdog.detect import PAUSE_SEVERITY, Engine, Severity, topic
from watchdog.devnet.anvil import free_port
from watchdog.errors import ConfigError
from watchdog.manifest import Manifest, load_manifest
from watchdog.store import FindingRecord, Store

README = Path(__file__).resolve().parents[1] / "README.md"
ATTACK = ("attack(uint256,uint256)", 3_000_000 * E, 950_000 * E)


@pytest.fixture
def world(lending_world):
    return lending_world


def readme_example() -> tuple[str, dict]:
    """The user rule and its config table, exactly as the README shows them."""
    section = README.read_text().split("#### Writing your own rule", 1)[1]
    toml_block = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    python_block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    return python_block, tomllib.loads(toml_block)["rules"]


def write_rule(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(source)
    return directory


CRASHING = '''
from watchdog.detect import Rule

class Crash(Rule):
    id = "crash"

    def on_tx(self, ctx):
        raise RuntimeError("bug in a user rule")

    on_block = on_tx
'''


def test_readme_rule_dropped_into_a_rule_directory(world, anvil, tmp_path):
    source, config = readme_example()
    rule_dir = write_rule(tmp_path / "my_rules", "approvals.py", source)
    params = {"unlimited-approval": config["unlimited-approval"]}
    first = world.head() + 1
    flagged = world.send(world.usd, "approve(address,uint256)", world.accounts[9], 2**256 - 1, sender=world.user)
    world.send(world.usd, "approve(address,uint256)", world.lending, 2**256 - 1, sender=world.user)  # a watched spender
    world.send(world.usd, "approve(address,uint256)", world.accounts[9], 10 * E, sender=world.user)   # a small allowance
    found = by_rule(follow(world, tmp_path, first, rules=params, rule_dirs=(rule_dir,)), "unlimited-approval")
    assert [(r.tx_hash, r.severity) for r in found] == [(flagged, "medium")]
    assert world.accounts[9] in found[0].addresses and found[0].evidence["token"] == world.usd


def test_a_failing_rule_is_counted_and_the_others_still_run(world, anvil, tmp_path):
    rule_dir = write_rule(tmp_path / "rules", "crash.py", CRASHING)
    before = REGISTRY.get_sample_value("watchdog_rule_errors_total", {"network": "devnet", "rule": "crash"}) or 0
    first = world.head() + 1
    world.send(world.spot_attacker, *ATTACK, sender=world.attacker)
    records = follow(world, tmp_path, first, rule_dirs=(rule_dir,))
    assert [r.severity for r in by_rule(records, "flash-loan")] == ["critical"]
    stats = follow.engine.stats
    assert stats["crash"].errors == 2 and "bug in a user rule" in stats["crash"].last_error  # one tx, one block
    assert stats["flash-loan"].errors == 0 and stats["flash-loan"].runs == 1 and stats["flash-loan"].seconds > 0
    assert REGISTRY.get_sample_value("watchdog_rule_errors_total", {"network": "devnet", "rule": "crash"}) == before + 2
    assert REGISTRY.get_sample_value("watchdog_rule_seconds_count", {"network": "devnet", "rule": "flash-loan"}) >= 1


@pytest.mark.parametrize(("files", "rules", "message"), [
    ({}, {"no-such-rule": {"enabled": False}}, "unknown rule id(s) no-such-rule"),
    ({}, {"drain": {"max_fraction": 0.5, "maxfraction": 1}}, "rules.drain: unknown parameter(s) maxfraction"),
    ({}, {"drain": {"max_fraction": "half"}}, "rules.drain.max_fraction: expected a number (default 0.5), got 'half'"),
    ({}, {"privileged-change": {"expected": {"contract": "X"}}}, "rules.privileged-change.expected: expected a list"),
    ({"a.py": "def broken(:\n"}, {}, "failed to import: SyntaxError"),
    ({"a.py": "from watchdog.detect import Rule\nclass R(Rule):\n    pass\n"}, {}, "has no `id`"),
    ({"a.py": "from watchdog.detect import Rule\nclass R(Rule):\n    id = 'drain'\n    def on_tx(self, ctx):\n        return ()\n"},
     {}, "rule id 'drain' is defined twice"),
    ({"a.py": "from watchdog.detect import Rule\nclass R(Rule):\n    id = 'old'\n    def evaluate(self, ctx):\n        return ()\n"},
     {}, "defines `evaluate`: split it into on_block / on_tx"),
    ({"a.py": "from watchdog.detect import Rule\nclass R(Rule):\n    id = 'idle'\n"}, {}, "handles no trigger"),
    ({}, {"oracle-health.stal": {"enabled": False}}, 'rules."oracle-health.stal": oracle-health has no check \'stal\''),
    ({}, {"drain.tx": {"warmup": 3}}, 'rules."drain.tx": unknown parameter(s) warmup; known: critical_fraction, '
                                      'divergence, max_fraction, min_value, paid_back, share_drop (set it in '
                                      '[rules.drain] or in the table of a check'),
    ({}, {"drain.tx": {"max_fraction": "half"}}, 'rules."drain.tx".max_fraction: expected a number'),
    ({}, {"nope.tx": {"enabled": False}}, "unknown rule id(s) nope.tx"),
])
def test_configuration_errors_are_one_clear_line(tmp_path, files, rules, message):
    for name, text in files.items():
        write_rule(tmp_path, name, text)
    with pytest.raises(ConfigError) as raised:
        Engine("devnet", Manifest(chain_id=1, contracts=[]), None, rules=rules, rule_dirs=[tmp_path] if files else [])
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_missing_rule_directory(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Engine("devnet", Manifest(chain_id=1, contracts=[]), None, rule_dirs=[tmp_path / "nope"])


def test_a_node_outage_is_not_swallowed_as_a_rule_error(world, tmp_path):
    """The listener must retry the block later, not commit it without findings."""
    engine = Engine("devnet", load_manifest(world.manifest(tmp_path)), None)
    dead = BlockReader(RpcClient(f"http://127.0.0.1:{free_port()}", retries=0, timeout=1), "devnet")
    with pytest.raises(RpcUnavailable):
        engine.on_schedule(dead)
    assert engine.stats["oracle-health"].errors == 0


def test_watched_topics_cover_the_flash_loan_events():
    topics = Engine("devnet", Manifest(chain_id=1, contracts=[]), None).watched_topics()
    for signature in ("FlashLoan(address,address,address,uint256,uint8,uint256,uint16)",   # Aave V3
                      "FlashLoan(address,address,address,uint256,uint256,uint16)",         # Aave V2
                      "FlashLoan(address,address,uint256,uint256)",                        # Balancer V2, Maker
                      "Flash(address,address,uint256,uint256,uint256,uint256)"):           # Uniswap V3
        assert topic(signature) in topics


def test_user_rule_topics_by_signature_or_by_hash(tmp_path):
    raw = "0x" + "ab" * 32
    write_rule(tmp_path, "topics.py", f"""
from watchdog.detect import Rule

class Listen(Rule):
    id = "listen"
    topics = ("Liquidate(address indexed user, uint256 amount)", "{raw}")

    def on_tx(self, ctx):
        return ()
""")
    topics = Engine("devnet", Manifest(chain_id=1, contracts=[]), None, rule_dirs=[tmp_path]).watched_topics()
    assert {raw, topic("Liquidate(address,uint256)")} <= topics


def test_allowlisted_actor_stays_below_the_pause_threshold(world, anvil, tmp_path):
    first = world.head() + 1
    tx = world.send(world.spot_attacker, *ATTACK, sender=world.attacker)
    records = [r for r in follow(world, tmp_path, first, allowlist=(world.attacker,)) if r.tx_hash == tx]
    assert {r.rule_id for r in records} >= {"flash-loan.protocol", "drain.tx", "price-manipulation.round-trip"}
    assert all(Severity(r.severity) < PAUSE_SEVERITY and r.labels["allowlisted"] == [world.attacker] for r in records)


def test_disabled_rule_does_not_run(world, anvil, tmp_path):
    first = world.head() + 1
    world.send(world.spot_attacker, *ATTACK, sender=world.attacker)
    records = follow(world, tmp_path, first, rules={"flash-loan": {"enabled": False}})
    assert by_rule(records, "flash-loan") == [] and by_rule(records, "drain")
    assert "flash-loan" not in follow.engine.stats


def test_rule_state_survives_a_restart(world, anvil, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'watchdog.db'}")
    first = world.head() + 1
    for _ in range(2):
        world.send(world.trader, "sell(address,address,uint256)", world.pair, world.usd, 80_000 * E)
    assert by_rule(follow(world, tmp_path, first, store=store), "price-manipulation") == []
    world.send(world.trader, "sell(address,address,uint256)", world.pair, world.usd, 80_000 * E)
    found = by_rule(follow(world, tmp_path, first, store=store), "price-manipulation")  # a new engine, same store
    assert [r.rule_id for r in found] == ["price-manipulation.twap-push"] and len(found[0].evidence["blocks"]) == 4


LOWER_PUSH = {"price-manipulation": {"twap_threshold": 0.15}}


def test_rule_state_forgets_blocks_that_a_reorg_removed(fresh_anvil, tmp_path):
    chain = World(fresh_anvil)
    store = Store(f"sqlite:///{tmp_path / 'watchdog.db'}")
    push = lambda: chain.send(chain.trader, "sell(address,address,uint256)", chain.pair, chain.usd, 80_000 * E)  # noqa: E731
    first = chain.head() + 1
    push()
    push()
    assert by_rule(follow(chain, tmp_path, first, store=store, rules=LOWER_PUSH), "price-manipulation") == []
    fresh_anvil.rpc("anvil_reorg", [1, []])  # the second push is gone; an empty block takes its place
    for _ in range(3):
        push()
    found = by_rule(follow(chain, tmp_path, first, store=store, rules=LOWER_PUSH), "price-manipulation")
    # three consecutive pushes on the canonical branch; the orphaned block's price is not part of the history
    assert [r.evidence["blocks"] for r in found] == [[first + 1, first + 2, first + 3, first + 4]]


def test_attack_waiting_in_the_mempool_is_flagged_before_it_lands(world, anvil, tmp_path):
    manifest = load_manifest(world.manifest(tmp_path))
    store = Store(f"sqlite:///{tmp_path / 'watchdog.db'}")
    engine = Engine("devnet", manifest, store)
    abis = AbiRegistry()
    abis.add_manifest(manifest)
    mempool = MempoolFollower("devnet", RpcClient(world.node.url), store, engine, engine.watched_addresses(), abis)
    first = world.head() + 1
    anvil.set_automine(False)
    try:
        tx = world.send(world.spot_attacker, *ATTACK, sender=world.attacker, wait=False)
        pending = mempool.process([tx])
    finally:
        anvil.set_automine(True)
    seen = {(r.rule_id, r.severity) for r in pending}
    assert {("flash-loan.protocol", "critical"), ("price-manipulation.round-trip", "critical"), ("drain.tx", "critical")} <= seen
    assert all(r.pending and r.block_number is None for r in pending)
    anvil.mine(1)
    follow(world, tmp_path, first, store=store)
    with store.session() as s:
        flash = s.exec(select(FindingRecord).where(FindingRecord.rule_id == "flash-loan.protocol")).all()
    assert len(flash) == 1 and not flash[0].pending and flash[0].block_number == first  # the same finding, now mined


def test_after_an_exploit_the_attackers_next_moves_are_followed_outside_the_manifest(world, anvil, tmp_path):
    first = world.head() + 1
    exploit = world.send(world.spot_attacker, *ATTACK, sender=world.attacker)
    fresh = "0x" + "5a" * 20  # never seen on this chain
    world.receipt(world.node.rpc("eth_sendTransaction", [{"from": world.attacker, "to": fresh, "value": hex(10**18)}]))
    records = follow(world, tmp_path, first)
    assert any(r.tx_hash == exploit and r.severity in ("high", "critical") for r in records)
    laundering = [r for r in records if r.rule_id == "attacker-flows.laundering"]
    assert [(r.evidence["member"], r.evidence["counterparty"]) for r in laundering] == [(world.attacker.lower(), fresh)]
    assert laundering[0].labels["stage"] == "laundering"
