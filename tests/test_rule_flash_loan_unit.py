"""flash-loan, check by check, on the test kit (no node): a profitable flash loan into the protocol is critical
(`flash-loan.protocol`), one that stays outside it is information (`flash-loan.outside`); every lender shape is
recognised from any emitter; deposits, tiny loans and plain swaps are no loans."""

from __future__ import annotations

import pytest

from fixtures.detect.paper import ATTACKER, ETH, LENDING, OTHER, POOL, USD, USER, E, manifest, priced, transfer

from watchdog.detect import Severity
from watchdog.detect.testing import RuleKit, address, frame, log, pending, tx
from watchdog.rules.flash_loan import LENDER_EVENTS, FlashLoan

LENDER, BORROWER = address(0xF00), address(0xF01)  # outside the manifest
SWAP = ("Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, "
        "address indexed to)")
UNISWAP_V2_CALL = "uniswapV2Call(address,uint256,uint256,bytes)"


def kit(**kw) -> RuleKit:
    made = RuleKit(FlashLoan, manifest(), **kw)
    priced(made.chain)
    return made


def aave_loan(amount: int, taken_from_protocol: int, premium: int = 0) -> tuple:
    """An Aave V3 flash loan of `amount` USD to the borrower, who takes `taken_from_protocol` USD out of Lending
    and repays the loan plus `premium`."""
    attack = tx(ATTACKER, BORROWER)
    logs = [
        transfer(USD, LENDER, BORROWER, amount),
        log(LENDER, LENDER_EVENTS["aave-v3"], BORROWER, BORROWER, USD, amount, 0, premium, 0, decoded=False),
        transfer(USD, LENDING, BORROWER, taken_from_protocol),
        transfer(USD, BORROWER, LENDER, amount + premium),
    ]
    trace = frame(ATTACKER, BORROWER, calls=[frame(BORROWER, LENDER), frame(BORROWER, LENDING)])
    return attack, logs, trace


def test_profitable_flash_loan_into_the_protocol_is_critical():
    attack, logs, trace = aave_loan(3_000_000 * E, 950_000 * E, premium=1_500 * E)
    found = kit().run(attack, logs=logs, trace=trace)
    assert [(f.rule_id, f.severity) for f in found] == [("flash-loan.protocol", Severity.CRITICAL)]
    evidence = found[0].evidence
    assert evidence["loans"][0]["kind"] == "aave-v3" and evidence["protocol_contracts"] == ["Lending"]
    assert evidence["borrowed_value"] == 3_000_000 and evidence["profit_estimate"] == pytest.approx(948_500)
    assert found[0].labels["stage"] == "exploitation"


def test_flash_loan_into_the_protocol_without_profit_is_medium():
    attack, logs, trace = aave_loan(3_000_000 * E, 0)
    found = kit().run(attack, logs=logs, trace=trace)
    assert [(f.rule_id, f.severity) for f in found] == [("flash-loan.protocol", Severity.MEDIUM)]


def flash_swap(profit_usd: int) -> tuple:
    """A Uniswap V2 flash swap of 2 ETH from the pool, repaid in USD, leaving `profit_usd` with the arbitrageur."""
    arb = tx(USER, BORROWER)
    logs = [
        transfer(ETH, POOL, BORROWER, 2 * E),
        transfer(USD, BORROWER, POOL, 4_020 * E),
        transfer(USD, OTHER, BORROWER, 4_020 * E + profit_usd),
        transfer(ETH, BORROWER, OTHER, 2 * E),
        log(POOL, SWAP, BORROWER, 4_020 * E, 0, 0, 2 * E, BORROWER),
    ]
    callback = frame(POOL, BORROWER, UNISWAP_V2_CALL, BORROWER, 0, 2 * E, b"x")
    trace = frame(USER, BORROWER, calls=[frame(BORROWER, POOL, calls=[callback]), frame(BORROWER, OTHER)])
    return arb, logs, trace


def test_flash_swap_arbitrage_outside_the_protocol_is_information():
    arb, logs, trace = flash_swap(40 * E)
    found = kit().run(arb, logs=logs, trace=trace)
    assert [(f.rule_id, f.severity) for f in found] == [("flash-loan.outside", Severity.INFO)]
    loan = found[0].evidence["loans"][0]
    assert (loan["kind"], loan["lender"], loan["borrower"], loan["token"]) == ("flash-swap:uniswapV2Call", POOL, BORROWER, ETH)


def test_outside_the_protocol_a_large_profit_raises_the_severity():
    arb, logs, trace = flash_swap(5_000 * E)
    assert [f.severity for f in kit().run(arb, logs=logs, trace=trace)] == [Severity.LOW]
    arb, logs, trace = flash_swap(200_000 * E)
    assert [f.severity for f in kit().run(arb, logs=logs, trace=trace)] == [Severity.MEDIUM]


def test_a_reverted_callback_is_no_loan():
    arb, logs, trace = flash_swap(40 * E)
    trace.calls[0].error = "execution reverted"
    assert kit().run(arb, logs=[logs[-1]], trace=trace) == []


LENDER_SHAPES = {  # kind -> the event's arguments for a 50,000 USD loan to BORROWER
    "aave-v2": (BORROWER, BORROWER, USD, 50_000 * E, 0, 0),
    "balancer-v2": (BORROWER, USD, 50_000 * E, 0),
    "maker-dssflash": (BORROWER, USD, 50_000 * E, 0),
    "uniswap-v3": (BORROWER, BORROWER, 50_000 * E, 0, 0, 0),
    "iron-bank": (BORROWER, 50_000 * E, 0, 0),
    "dodo": (BORROWER, BORROWER, 50_000 * E, 0),
}


@pytest.mark.parametrize("kind", sorted(LENDER_SHAPES))
def test_every_lender_shape_from_any_emitter(kind):
    k = kit()
    k.chain.pool(LENDER, USD, ETH)                                                # uniswap-v3: the pool's tokens
    k.chain.on_call(LENDER, "underlying()(address)", returns=USD)                 # iron-bank: the market's token
    borrow = tx(USER, BORROWER)
    logs = [transfer(USD, LENDER, BORROWER, 50_000 * E), log(LENDER, LENDER_EVENTS[kind], *LENDER_SHAPES[kind], decoded=False),
            transfer(USD, BORROWER, LENDER, 50_000 * E)]
    found = k.run(borrow, logs=logs, trace=frame(USER, BORROWER))
    assert [(f.rule_id, f.severity) for f in found] == [("flash-loan.outside", Severity.INFO)]
    loan = found[0].evidence["loans"][0]
    assert (loan["kind"], loan["lender"], loan["borrower"], loan["amount"]) == (kind, LENDER, BORROWER, str(50_000 * E))


def test_borrowed_and_repaid_without_any_lender_event():
    borrow = tx(USER, BORROWER)
    logs = [transfer(USD, LENDER, BORROWER, 50_000 * E), transfer(USD, BORROWER, LENDER, 50_000 * E)]
    found = kit().run(borrow, logs=logs)
    assert [(f.rule_id, f.evidence["loans"][0]["kind"]) for f in found] == [("flash-loan.outside", "borrow-repay")]


def test_a_deposit_taken_back_and_a_tiny_loan_are_no_finding():
    cycle = tx(USER, BORROWER)
    deposit = [transfer(USD, BORROWER, LENDING, 10_000 * E), transfer(USD, LENDING, BORROWER, 10_000 * E)]
    assert kit().run(cycle, logs=deposit) == []
    tiny = tx(USER, BORROWER)
    assert kit().run(tiny, logs=[transfer(USD, LENDER, BORROWER, 100 * E), transfer(USD, BORROWER, LENDER, 100 * E)]) == []


def test_a_plain_swap_is_no_loan():
    swap = tx(USER, POOL)
    logs = [transfer(USD, USER, POOL, 2_000 * E), transfer(ETH, POOL, USER, E), log(POOL, SWAP, USER, 2_000 * E, 0, 0, E, USER)]
    assert kit().run(swap, logs=logs, trace=frame(USER, POOL)) == []


def test_pending_attack_is_flagged_from_its_simulation():
    attack, logs, trace = aave_loan(3_000_000 * E, 950_000 * E)
    found = kit().run(pending(attack, trace, logs))
    assert [(f.rule_id, f.severity, f.pending) for f in found] == [("flash-loan.protocol", Severity.CRITICAL, True)]


def test_checks_off_and_tuned_one_by_one():
    attack, logs, trace = aave_loan(3_000_000 * E, 950_000 * E)
    assert kit(checks={"protocol": {"enabled": False}}).run(attack, logs=logs, trace=trace) == []
    arb, logs, trace = flash_swap(40 * E)
    assert kit(checks={"outside": {"enabled": False}}).run(arb, logs=logs, trace=trace) == []
    attack, logs, trace = aave_loan(3_000_000 * E, 950_000 * E)
    found = kit(checks={"protocol": {"high_profit": 10_000_000.0}}).run(attack, logs=logs, trace=trace)
    assert [f.severity for f in found] == [Severity.HIGH]
