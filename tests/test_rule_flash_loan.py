"""flash-loan on a real anvil: the spot-price attack is critical, a flash-swap arbitrage stays informational."""

from __future__ import annotations

import pytest

from fixtures.detect.kit import E, by_rule, follow, lending_world  # noqa: F401

from watchdog.detect import PAUSE_SEVERITY, Severity


@pytest.fixture
def world(lending_world):
    """This module tests against the small lending world of the rule tests."""
    return lending_world


def test_spot_price_attack_through_a_flash_loan_is_critical(world, anvil, tmp_path):
    first = world.head() + 1
    tx = world.send(world.spot_attacker, "attack(uint256,uint256)", 3_000_000 * E, 950_000 * E, sender=world.attacker)
    found = by_rule(follow(world, tmp_path, first), "flash-loan")
    assert len(found) == 1
    finding = found[0]
    assert finding.tx_hash == tx and finding.severity == "critical" and finding.rule_id == "flash-loan.protocol"
    assert finding.evidence["loans"][0]["kind"] == "aave-v3"
    assert "Lending" in finding.evidence["protocol_contracts"]
    assert finding.evidence["profit_estimate"] > 800_000  # quote units, 950k borrowed minus swap fees and premium
    assert finding.evidence["borrowed_value"] == 3_000_000


def test_flash_swap_arbitrage_stays_below_the_pause_threshold(world, anvil, tmp_path):
    first = world.head() + 1
    tx = world.send(world.arbitrageur, "arbitrage(address,address,address,address,uint256)",
                    world.pair, world.pair2, world.eth, world.usd, 2 * E, sender=world.arber)
    records = follow(world, tmp_path, first)
    found = by_rule(records, "flash-loan")
    assert [(r.rule_id, r.tx_hash) for r in found] == [("flash-loan.outside", tx)]
    assert found[0].evidence["loans"][0]["kind"] == "flash-swap:uniswapV2Call"
    assert Severity(found[0].severity) < PAUSE_SEVERITY
    assert found[0].evidence["protocol_contracts"] == []
    assert all(Severity(r.severity) < PAUSE_SEVERITY for r in records)


@pytest.mark.parametrize(("lender", "kind"), [
    ("BalancerLikeLender", "balancer-v2"),
    ("MakerLikeLender", "maker-dssflash"),
    ("AaveV2LikeLender", "aave-v2"),
    ("UniswapV3LikePool", "uniswap-v3"),
    ("PlainLender", "borrow-repay"),  # no event at all: the same amount out and back in one transaction
])
def test_every_lender_shape_is_recognised_from_any_emitter(world, anvil, tmp_path, lender, kind):
    args = (("address", "address"), (world.usd, world.eth)) if lender == "UniswapV3LikePool" else ((), ())
    source = world.deploy(lender, *args)                         # not in the manifest
    borrower = world.deploy("Borrower")
    world.mint(world.usd, source, 100_000 * E)
    first = world.head() + 1
    tx = world.send(borrower, "borrow(address,address,uint256)", source, world.usd, 50_000 * E)
    found = by_rule(follow(world, tmp_path, first), "flash-loan")
    assert [(r.tx_hash, r.severity) for r in found] == [(tx, "info")]  # no protocol touched, no profit
    loan = found[0].evidence["loans"][0]
    assert (loan["kind"], loan["lender"], loan["borrower"], loan["token"], loan["amount"]) == (
        kind, source, borrower, world.usd, str(50_000 * E))
    assert found[0].evidence["borrowed_value"] == 50_000


def test_deposit_and_withdrawal_in_one_transaction_is_not_a_loan(world, anvil, tmp_path):
    depositor = world.deploy("Depositor")
    world.mint(world.usd, depositor, 10_000 * E)
    first = world.head() + 1
    world.send(depositor, "cycle(address,address,uint256)", world.lending, world.usd, 10_000 * E)
    records = follow(world, tmp_path, first)
    assert by_rule(records, "flash-loan") == []
