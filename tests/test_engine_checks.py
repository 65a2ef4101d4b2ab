"""The rule API on the test kit (no node): handlers by trigger, findings named by check, checks switched off and
tuned one by one, controls per check, and the context's plumbing (events, transfers, calls, prices, other networks)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fixtures.detect.paper import ADAPTER, ATTACKER, ETH, LENDING, OTHER, POOL, RESERVES, USD, USER, E, manifest, priced, sync, transfer

from watchdog.cli import app
from watchdog.detect import Check, Rule, Severity, Trigger
from watchdog.detect.testing import FakeChain, RuleKit, block, calldata, frame, ids, log, pending, tick, tx
from watchdog.errors import ConfigError

SEEN: list = []


class Probe(Rule):
    """Reports every event it sees, under the check named by the event's kind."""

    id = "probe"
    params = {"level": 1}
    checks = {
        "block": Check("a block", Severity.INFO, ("level",)),
        "tx": Check("a transaction", Severity.HIGH, ()),
    }

    def on_block(self, ctx):
        yield ctx.finding(check="block", key="same")

    def on_tx(self, ctx):
        SEEN.append(ctx.params_of("block")["level"])
        yield ctx.finding(check="tx", key="same")

    on_pending = on_tx


class Plain(Rule):
    id = "plain"
    severity = Severity.LOW

    def on_schedule(self, ctx):
        yield ctx.finding(description="tick")


def test_the_handlers_a_class_overrides_are_its_triggers():
    assert Probe.triggers() == {Trigger.BLOCK, Trigger.TX, Trigger.PENDING}
    assert Plain.triggers() == {Trigger.SCHEDULE}


def test_findings_carry_the_id_of_their_check_with_its_title_and_severity():
    k = RuleKit(Probe)
    found = k.run(tx(USER, OTHER))
    assert [(f.rule_id, f.title, f.severity) for f in found] == [
        ("probe.block", "a block", Severity.INFO), ("probe.tx", "a transaction", Severity.HIGH)]
    assert [(f.rule_id, f.pending) for f in k.run(pending(tx(USER, OTHER)))] == [("probe.tx", True)]
    assert [(f.rule_id, f.severity) for f in RuleKit(Plain).run(tick(5))] == [("plain", Severity.LOW)]


def test_a_check_turned_off_is_dropped_and_a_check_tuned_alone():
    SEEN.clear()
    k = RuleKit(Probe, params={"level": 2}, checks={"tx": {"enabled": False}, "block": {"level": 3}})
    assert ids(k.run(tx(USER, OTHER))) == ["probe.block"]
    assert SEEN == [3]  # the tx handler still ran; its findings were dropped
    assert "probe" not in RuleKit(Probe, checks={"tx": {"enabled": False}, "block": {"enabled": False}}).engine.stats
    assert "probe" not in RuleKit(Probe, params={"enabled": False}).engine.stats


@pytest.mark.parametrize(("checks", "message"), [
    ({"nope": {}}, 'rules."probe.nope": probe has no check \'nope\'; its checks: block, tx'),
    ({"tx": {"level": 2}}, 'rules."probe.tx": unknown parameter(s) level; known: none'),
    ({"block": {"level": "x"}}, 'rules."probe.block".level: expected a number'),
])
def test_check_tables_are_validated(checks, message):
    with pytest.raises(ConfigError) as raised:
        RuleKit(Probe, checks=checks)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_check_that_names_an_undeclared_parameter_is_refused_at_load():
    class Broken(Rule):
        id = "broken"
        checks = {"x": Check("x", Severity.LOW, ("missing",))}

        def on_tx(self, ctx):
            return ()

    with pytest.raises(ConfigError, match="check 'x' uses missing, which `params` does not declare"):
        RuleKit(Broken)


def test_naming_an_undeclared_check_is_a_rule_error_counted_and_isolated():
    class Sloppy(Rule):
        id = "sloppy"
        checks = {"x": Check("x", Severity.LOW)}

        def on_tx(self, ctx):
            yield ctx.finding(check="y")

    k = RuleKit(Sloppy)
    assert k.run(tx(USER, OTHER)) == [] and "has no check 'y'" in k.engine.stats["sloppy"].last_error


def test_cooldown_and_allowlist_per_check():
    k = RuleKit(Probe, checks={"block": {"cooldown": 600}})
    assert ids(k.run(block(1))) == ["probe.block"]
    assert ids(k.run(tx(USER, OTHER, block=2))) == ["probe.tx"]            # the block check waits, not the tx one
    assert ids(k.run(block(60))) == ["probe.block"]                        # 59 blocks of 12 s later
    allowed = RuleKit(Probe, checks={"tx": {"allowlist": [USER]}}).run(tx(USER, OTHER))
    assert [(f.rule_id, f.severity) for f in allowed] == [("probe.block", Severity.INFO), ("probe.tx", Severity.LOW)]


# -- the context's plumbing ----------------------------------------------------------------------------
class Capture(Rule):
    """Hands its context to the test."""

    id = "capture"
    contexts: list = []

    def on_tx(self, ctx):
        Capture.contexts.append(ctx)
        return ()

    on_pending = on_tx


def context_of(k: RuleKit, *args, **kw):
    Capture.contexts.clear()
    k.run(*args, **kw)
    return Capture.contexts[-1]


def test_events_by_signature_or_by_name_of_an_emitter():
    k = RuleKit(Capture, manifest())
    made = tx(USER, LENDING)
    logs = [transfer(USD, USER, LENDING, 5), log(OTHER, "Transfer(address indexed a, address indexed b, uint256 c)",
                                                  USER, OTHER, 7, decoded=False), sync(*RESERVES)]
    ctx = context_of(k, made, logs=logs)
    assert [e.args["value"] for e in ctx.events("Transfer(address indexed from, address indexed to, uint256 value)")] == [5, 7]
    assert [e.address for e in ctx.events("Transfer", emitter=USD)] == [USD]   # by the name the ABIs decoded
    assert [(t.token, t.value) for t in ctx.transfers()] == [(USD, 5), (OTHER, 7)]
    assert ctx.events("Sync(uint112,uint112)", POOL)[0].args == {"arg0": RESERVES[0], "arg1": RESERVES[1]}


def test_calls_calldata_and_return_data_of_frames_that_took_effect():
    k = RuleKit(Capture, manifest())
    swap = "swap(uint256,uint256,address,bytes)"
    made = tx(USER, POOL, calldata(swap, 1, 2, USER, b""))
    inner = frame(POOL, ADAPTER, "price()(uint256)", returns=2000 * E)
    reverted = frame(USER, POOL, swap, 9, 9, USER, b"", error="reverted", calls=[frame(POOL, LENDING, swap, 8, 8, USER, b"")])
    ctx = context_of(k, made, trace=frame(USER, POOL, swap, 1, 2, USER, b"", calls=[inner, reverted]))
    assert [c.args[:2] for c in ctx.calls(swap)] == [(1, 2)]            # nothing under the reverted frame counts
    assert ctx.calldata(swap) == (1, 2, USER, "0x") and ctx.calldata("transfer(address,uint256)") is None
    assert ctx.returned(ctx.frames(to=ADAPTER)[0], "uint256") == (2000 * E,)
    k.chain.on_call(ADAPTER, "price()(uint256)", returns=1990 * E, block=0)
    assert ctx.call_at(inner, "uint256") == (1990 * E,)


def test_reserves_prices_and_the_price_path_of_a_pool():
    k = RuleKit(Capture, manifest())
    priced(k.chain)
    first, second = tx(USER, POOL), tx(ATTACKER, POOL)
    logs = [sync(2_100_000 * E, 952 * E, of=first), sync(2_500_000 * E, 800 * E, of=second), sync(2_000_000 * E, 1_000 * E, of=second)]
    k.run(block(3), txs=[first, second], logs=logs)
    ctx = Capture.contexts[-1]
    assert ctx.tx.hash == second.hash and ctx.reserves(POOL) == RESERVES
    assert ctx.pair_price(POOL, ETH) == pytest.approx(2000) and ctx.pair_price(POOL) == pytest.approx(1 / 2000)
    path = ctx.price_path(POOL, ETH)
    assert path.before == pytest.approx(2_100_000 / 952) and path.prices == [pytest.approx(3125), pytest.approx(2000)]
    whole = ctx.price_path(POOL, ETH, whole_block=True)
    assert whole.before == pytest.approx(2000) and list(whole.by_tx().values()) == [pytest.approx(2_100_000 / 952), pytest.approx(2000)]
    assert ctx.feed_round(ctx.registry.resolve("EthFeed").address).price == 2000
    assert ctx.value(ETH, 3 * E) == pytest.approx(6000) and ctx.value(USD, 3 * E) == 3


def test_another_network_is_read_through_the_engine_and_failures_are_unknown_answers():
    other = FakeChain("other")
    other.feed(OTHER, 1500 * 10**8, 0)
    k = RuleKit(Capture, manifest(), remotes={"http://other:8545": other})
    ctx = context_of(k, tx(USER, OTHER))
    assert ctx.remote("http://other:8545").feed_price(OTHER) == 1500
    assert ctx.remote("http://unknown:8545").feed_price(OTHER) is None


def test_rules_list_shows_each_check():
    done = CliRunner().invoke(app, ["rules", "list", "--json"])
    assert done.exit_code == 0, done.output
    rules = {r["id"]: r for r in json.loads(done.stdout)}
    stale = next(c for c in rules["oracle-health"]["checks"] if c["id"] == "oracle-health.stale")
    assert stale == {"id": "oracle-health.stale", "title": "Feed stale beyond its heartbeat", "severity": "high",
                     "params": ["heartbeat", "grace", "stale_move"], "description": stale["description"]}
    assert {c["id"] for c in rules["drain"]["checks"]} == {
        "drain.tx", "drain.block", "drain.native-tx", "drain.native-block", "drain.unusual-outflow"}
    table = CliRunner().invoke(app, ["rules", "list"], env={"COLUMNS": "160"})
    assert ".unusual-outflow" in table.stdout and ".exploit-bytecode" in table.stdout
