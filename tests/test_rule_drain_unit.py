"""drain, check by check, on the test kit (no node): tokens and native coin taken in one transaction or over one
block, an outflow far above the usual one; honest withdrawals, explained balance drops and usual outflows stay
quiet; value floors, pending transactions and per-check settings behave."""

from __future__ import annotations

import pytest

from fixtures.detect.paper import ATTACKER, LENDING, OTHER, USD, USER, E, manifest, priced, transfer

from watchdog.detect import Severity
from watchdog.detect.testing import RuleKit, block, frame, ids, pending, tx
from watchdog.rules.drain import NATIVE, Drain

POOL_USD = 1_000_000 * E


def kit(balance: int = POOL_USD, **kw) -> RuleKit:
    """Lending holds `balance` USD before every block."""
    made = RuleKit(Drain, manifest(), **kw)
    priced(made.chain)
    made.chain.on_call(USD, "balanceOf(address)(uint256)", [LENDING], returns=balance)
    return made


def sweep(amount: int, sender: str = ATTACKER, **kw) -> tuple:
    taken = tx(sender, LENDING, **kw)
    return taken, [transfer(USD, LENDING, OTHER, amount, of=taken)]


def test_token_balance_drained_in_one_transaction():
    taken, logs = sweep(990_000 * E)
    found = kit().run(taken, logs=logs)
    assert [(f.rule_id, f.severity, f.tx_hash) for f in found] == [("drain.tx", Severity.CRITICAL, taken.hash)]
    assert found[0].evidence["fraction"] == pytest.approx(0.99) and found[0].evidence["value"] == 990_000
    taken, logs = sweep(600_000 * E)
    assert [(f.rule_id, f.severity) for f in kit().run(taken, logs=logs)] == [("drain.tx", Severity.HIGH)]


def test_honest_withdrawal_is_no_drain():
    taken, logs = sweep(300_000 * E, sender=USER)
    assert kit().run(taken, logs=logs) == []


def test_small_losses_stay_low_under_the_value_floor():
    taken, logs = sweep(990_000 * E)
    found = kit(params={"min_value": 10_000_000}).run(taken, logs=logs)
    assert [(f.rule_id, f.severity) for f in found] == [("drain.tx", Severity.LOW)]


def test_the_balance_is_counted_from_before_the_transaction():
    """An earlier transaction of the block already took 400k: 550k of the 600k left is 92 %."""
    first, first_logs = sweep(400_000 * E, sender=USER)
    second, second_logs = sweep(550_000 * E)
    found = kit().run(block(5), txs=[first, second], logs=first_logs + second_logs)
    assert [(f.rule_id, f.tx_hash, f.severity) for f in found] == [("drain.tx", second.hash, Severity.CRITICAL)]


def test_drain_split_over_one_block():
    first, first_logs = sweep(300_000 * E)
    second, second_logs = sweep(300_000 * E)
    found = kit().run(block(5), txs=[first, second], logs=first_logs + second_logs)
    assert [(f.rule_id, f.tx_hash, f.severity) for f in found] == [("drain.block", None, Severity.HIGH)]
    assert found[0].evidence["txs"] == 2 and found[0].evidence["fraction"] == pytest.approx(0.6)
    first, first_logs = sweep(100_000 * E, sender=USER)
    second, second_logs = sweep(100_000 * E, sender=OTHER)
    assert kit().run(block(5), txs=[first, second], logs=first_logs + second_logs) == []


def coin_kit(before: int, after: int, **kw) -> RuleKit:
    """Lending holds `before` wei until block 4 and `after` from block 5 on; the native coin is priced as ETH."""
    made = kit(params={"native_asset": "ETH"}, **kw)
    made.chain.set_balance(LENDING, before)
    made.chain.set_balance(LENDING, after, block=5)
    return made


def test_native_coin_taken_in_one_transaction():
    taken = tx(ATTACKER, LENDING, block=5)
    trace = frame(ATTACKER, LENDING, calls=[frame(LENDING, ATTACKER, value=95 * E)])
    found = coin_kit(100 * E, 5 * E).run(taken, trace=trace)
    assert [(f.rule_id, f.severity) for f in found] == [("drain.native-tx", Severity.CRITICAL)]
    assert found[0].evidence["token"] == NATIVE and found[0].evidence["value"] == pytest.approx(95 * 2000)


def test_native_coin_sent_by_a_reverted_frame_moved_nothing():
    taken = tx(ATTACKER, LENDING, block=5)
    trace = frame(ATTACKER, LENDING, calls=[frame(LENDING, ATTACKER, value=95 * E, error="execution reverted")])
    assert coin_kit(100 * E, 100 * E).run(taken, trace=trace) == []


def test_native_coin_gone_over_a_block_with_no_transaction_to_explain_it():
    found = coin_kit(100 * E, 20 * E).run(block(5))
    assert [(f.rule_id, f.tx_hash, f.severity) for f in found] == [("drain.native-block", None, Severity.HIGH)]
    assert found[0].evidence["fraction"] == pytest.approx(0.8)
    assert coin_kit(100 * E, 70 * E).run(block(5)) == []   # 30 %: an honest withdrawal's size
    assert coin_kit(100 * E, 100 * E).run(block(5)) == []


def test_outflow_far_above_the_usual_one_after_warmup():
    k = kit(params={"warmup": 5})
    for n in range(6):
        taken, logs = sweep((1_000 + 100 * n) * E, sender=USER, block=10 + n)
        assert k.run(taken, logs=logs) == []
    usual, logs = sweep(1_400 * E, sender=USER, block=20)
    assert k.run(usual, logs=logs) == []
    spike, logs = sweep(40_000 * E, sender=USER, block=21)
    found = k.run(spike, logs=logs)
    assert [(f.rule_id, f.severity) for f in found] == [("drain.unusual-outflow", Severity.MEDIUM)]
    assert found[0].evidence["usual_multiple"] > 10


def test_no_usual_outflow_during_warmup():
    k = kit(params={"warmup": 5})
    first, logs = sweep(1_000 * E, sender=USER, block=10)
    k.run(first, logs=logs)
    spike, logs = sweep(40_000 * E, sender=USER, block=11)
    assert k.run(spike, logs=logs) == []


def test_pending_drain_is_judged_from_its_simulation():
    taken, logs = sweep(990_000 * E)
    found = kit().run(pending(taken, frame(ATTACKER, LENDING), logs))
    assert [(f.rule_id, f.severity, f.pending) for f in found] == [("drain.tx", Severity.CRITICAL, True)]


def test_checks_off_and_tuned_one_by_one():
    taken, logs = sweep(600_000 * E)
    assert kit(checks={"tx": {"enabled": False}}).run(taken, logs=logs) == []
    taken, logs = sweep(600_000 * E)
    assert kit(checks={"tx": {"max_fraction": 0.7}}).run(taken, logs=logs) == []
    first, first_logs = sweep(300_000 * E)
    second, second_logs = sweep(300_000 * E)
    tuned = kit(checks={"tx": {"max_fraction": 0.7}, "block": {"max_fraction": 0.7}})
    assert tuned.run(block(5), txs=[first, second], logs=first_logs + second_logs) == []  # 60 % < 70 %
    allowed = kit(checks={"tx": {"allowlist": [ATTACKER]}})
    taken, logs = sweep(990_000 * E)
    found = allowed.run(taken, logs=logs)
    assert ids(found) == ["drain.tx"] and found[0].severity == Severity.LOW and found[0].labels["allowlisted"] == [ATTACKER]


MARKET = "0x" + "4d" * 20
VAULT_VIEW = {"type": "function", "name": "vault", "stateMutability": "view", "inputs": [],
              "outputs": [{"name": "", "type": "address"}]}
MARGIN_VIEW = {"type": "function", "name": "marginOf", "stateMutability": "view",
               "inputs": [{"name": "trader", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]}


@pytest.mark.parametrize("settled", [True, False], ids=["position-closed", "no-position-changed"])
def test_a_vault_pays_what_the_books_of_its_market_say_is_owed(settled: bool):
    """Lending keeps the cash and a market whose `vault()` names it keeps the books: a trader taking 60 % of the
    cash as its position on the market closes is owed; the same outflow while its position stays is not."""
    made = RuleKit(Drain, manifest({"name": "Market", "address": MARKET, "role": "market", "abi": [VAULT_VIEW, MARGIN_VIEW]}))
    priced(made.chain)
    made.chain.on_call(USD, "balanceOf(address)(uint256)", [LENDING], returns=POOL_USD)
    made.chain.set_code(MARKET, "0x6001")
    made.chain.on_call(MARKET, "vault()(address)", returns=LENDING)
    made.chain.on_call(MARKET, "marginOf(address)(uint256)", [USER], returns=600_000 * E)
    made.chain.on_call(MARKET, "marginOf(address)(uint256)", [USER], returns=0 if settled else 600_000 * E, block=1)
    taken, logs = sweep(600_000 * E, sender=USER)
    found = made.run(taken, logs=logs)
    if settled:
        assert found == []
    else:
        assert [(f.rule_id, f.severity) for f in found] == [("drain.tx", Severity.HIGH)]
        assert "no position" in found[0].evidence["judgement"]
