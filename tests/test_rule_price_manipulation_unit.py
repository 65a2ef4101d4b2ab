"""price-manipulation, check by check, on the test kit (no node): a round trip inside one transaction, a sandwich
within one block, a deviating price consumed by the protocol, a pool pushed over consecutive blocks; honest
trades, fair prices and back-and-forth trading stay quiet."""

from __future__ import annotations

import pytest

from fixtures.detect.paper import (ADAPTER, ATTACKER, ETH, FEED, LENDING, OTHER, POOL, PROXY, RESERVES, TWAP, USD, USD8, USER,
                                   E, described, manifest, priced, sync, transfer, without_hints)

from watchdog.detect import Severity
from watchdog.detect.testing import GENESIS_TIME, RuleKit, block, frame, ids, pending, tx
from watchdog.rules.price_manipulation import PriceManipulation

PRICE = "price()(uint256)"


def kit(*extra: dict, **kw) -> RuleKit:
    made = RuleKit(PriceManipulation, manifest(*extra), **kw)
    priced(made.chain)
    return made


def pushed_and_back(of=None) -> list:
    """ETH pumped about 6x in the pool (USD in, ETH out), then sold back."""
    return [sync(5_000_000 * E, 400 * E, of=of), sync(2_010_000 * E, 995 * E, of=of)]


def test_round_trip_through_the_protocol_is_critical():
    attack = tx(ATTACKER, OTHER)
    trace = frame(ATTACKER, OTHER, calls=[frame(OTHER, POOL), frame(OTHER, LENDING)])
    found = kit().run(attack, logs=pushed_and_back(), trace=trace)
    assert ids(found) == ["price-manipulation.round-trip"] and found[0].severity == Severity.CRITICAL
    assert found[0].evidence["protocol_contracts"] == ["Lending"] and abs(found[0].evidence["end_move"]) < 0.01


def test_round_trip_that_stays_outside_the_protocol_is_medium():
    found = kit().run(tx(ATTACKER, OTHER), logs=pushed_and_back(), trace=frame(ATTACKER, OTHER))
    assert [(f.rule_id, f.severity) for f in found] == [("price-manipulation.round-trip", Severity.MEDIUM)]


def test_one_honest_trade_is_no_round_trip():
    assert kit().run(tx(USER, POOL), logs=[sync(2_300_000 * E, 870 * E)]) == []


def test_round_trip_starts_from_the_pools_last_price_earlier_in_the_block():
    first, second = tx(USER, POOL), tx(ATTACKER, OTHER)
    logs = [sync(2_300_000 * E, 870 * E, of=first), *pushed_and_back(of=second)]
    found = kit().run(block(7), txs=[first, second], logs=logs, traces={second.hash: frame(ATTACKER, OTHER)})
    assert ids(found) == ["price-manipulation.round-trip"] and found[0].tx_hash == second.hash
    assert found[0].evidence["price_before"] == pytest.approx(870 / 2_300_000)


def consuming(adapter_answer: int) -> tuple:
    """A borrow on Lending that reads the adapter, which answers `adapter_answer` USD per ETH."""
    borrow = tx(USER, LENDING)
    trace = frame(USER, LENDING, calls=[frame(LENDING, ADAPTER, PRICE, returns=adapter_answer * E)])
    return borrow, [transfer(USD, LENDING, USER, 10_000 * E)], trace


def test_protocol_consuming_a_price_far_from_its_reference():
    borrow, logs, trace = consuming(10_000)
    found = kit().run(borrow, logs=logs, trace=trace)
    assert ids(found) == ["price-manipulation.consumed-price"] and found[0].severity == Severity.HIGH
    assert found[0].evidence["reference"] == "EthFeed" and found[0].evidence["reference_price"] == 2000
    borrow, logs, trace = consuming(2_050)
    assert kit().run(borrow, logs=logs, trace=trace) == []


def test_consumed_price_without_a_reference_is_compared_with_the_same_read_before_the_block():
    paper = manifest()
    paper["contracts"][4].pop("reference")  # the adapter
    k = RuleKit(PriceManipulation, paper)
    priced(k.chain)
    k.chain.on_call(ADAPTER, PRICE, returns=2000 * E)            # before the block
    borrow, logs, trace = consuming(3_000)
    found = k.run(borrow, logs=logs, trace=trace)
    assert ids(found) == ["price-manipulation.consumed-price"]
    assert found[0].evidence["reference"] == "the same read before the block"
    borrow, logs, trace = consuming(2_100)
    assert k.run(borrow, logs=logs, trace=trace) == []


def test_a_pending_attack_is_judged_from_its_simulation():
    borrow, logs, trace = consuming(10_000)
    trace.calls.insert(0, frame(USER, POOL))
    found = kit().run(pending(borrow, trace, [*pushed_and_back(), *logs]))
    assert ids(found) == ["price-manipulation.round-trip", "price-manipulation.consumed-price"]
    assert all(f.pending and f.block_number is None for f in found)


def sandwich() -> tuple[list, list]:
    """A front-run buying ETH, the victim's buy at the worse price, the back-run selling it all back."""
    front, victim, back = tx(ATTACKER, POOL), tx(USER, POOL), tx(ATTACKER, POOL)
    return [front, victim, back], [
        sync(2_400_000 * E, 834 * E, of=front),
        sync(2_420_000 * E, 826 * E, of=victim),
        sync(2_020_000 * E, 1_000 * E, of=back),
    ]


def test_sandwich_shape_within_one_block():
    txs, logs = sandwich()
    found = kit().run(block(9), txs=txs, logs=logs)
    assert ids(found) == ["price-manipulation.sandwich"] and found[0].severity == Severity.MEDIUM
    assert len(found[0].evidence["txs"]) == 3


def test_three_trades_the_same_way_are_no_sandwich():
    a, b, c = tx(USER, POOL), tx(OTHER, POOL), tx(ATTACKER, POOL)
    logs = [sync(2_050_000 * E, 976 * E, of=a), sync(2_100_000 * E, 953 * E, of=b), sync(2_150_000 * E, 931 * E, of=c)]
    assert kit().run(block(9), txs=[a, b, c], logs=logs) == []


class Trader:
    """Trades on the pool, one block at a time."""

    def __init__(self, k: RuleKit) -> None:
        self.kit, self.reserves = k, RESERVES

    def push(self, number: int, factor: float) -> list:
        """Block `number`, whose only trade moves the pool's ETH price by `factor` from the previous block's."""
        usd, eth = self.reserves
        self.kit.chain.pool(POOL, USD, ETH, (usd, eth), block=number - 1)
        self.reserves = (int(usd * factor ** 0.5), int(eth / factor ** 0.5))
        return self.kit.run(tx(USER, POOL, block=number), logs=[sync(*self.reserves)])


def test_pool_pushed_the_same_way_over_consecutive_blocks():
    trader = Trader(kit())
    assert [trader.push(n, 1.08) for n in (10, 11)] == [[], []]
    found = trader.push(12, 1.08)
    assert ids(found) == ["price-manipulation.twap-push"] and found[0].severity == Severity.MEDIUM
    assert found[0].evidence["blocks"] == [9, 10, 11, 12] and found[0].evidence["total_move"] < -0.2


def test_a_twap_oracle_on_the_pushed_pool_makes_it_high():
    trader = Trader(kit({"name": "Twap", "address": TWAP, "role": "twap_oracle", "pair": "Pool"}))
    found = [trader.push(n, 1.08) for n in (10, 11, 12)][-1]
    assert [(f.rule_id, f.severity) for f in found] == [("price-manipulation.twap-push", Severity.HIGH)]


def test_back_and_forth_trading_and_a_quiet_block_in_between_are_no_push():
    trader = Trader(kit())
    assert [trader.push(n, f) for n, f in ((10, 1.08), (11, 1.08), (12, 0.95), (13, 1.08))] == [[], [], [], []]
    again = Trader(kit())
    assert [again.push(n, 1.08) for n in (10, 11, 13)] == [[], [], []]  # block 12 had no trade


def test_checks_off_and_tuned_one_by_one():
    off = kit(checks={"round-trip": {"enabled": False}})
    assert off.run(tx(ATTACKER, OTHER), logs=pushed_and_back(), trace=frame(ATTACKER, OTHER)) == []
    assert "price-manipulation" in off.engine.stats  # the other checks still run
    deaf = kit(checks={"round-trip": {"move_threshold": 10.0}})
    assert deaf.run(tx(ATTACKER, OTHER), logs=pushed_and_back(), trace=frame(ATTACKER, OTHER)) == []
    txs, logs = sandwich()
    assert ids(deaf.run(block(9), txs=txs, logs=logs)) == ["price-manipulation.sandwich"]  # its own threshold


def test_the_pool_price_is_adjusted_for_token_decimals():
    k = kit()
    k.chain.token(USD, decimals=6)
    k.chain.pool(POOL, USD, ETH, (2_000_000 * 10**6, 1_000 * E))
    found = k.run(tx(ATTACKER, OTHER), logs=[sync(5_000_000 * 10**6, 400 * E), sync(2_010_000 * 10**6, 995 * E)],
                  trace=frame(ATTACKER, OTHER))
    assert ids(found) == ["price-manipulation.round-trip"]
    assert found[0].evidence["price_after"] == pytest.approx(995 / 2_010_000)  # ETH per USD, whole units


# -- from the protocol model: the sources a protocol reads, against the other sources of their asset -----------

POOL_VIEW = {"type": "function", "name": "pricePool", "stateMutability": "view", "inputs": [],
             "outputs": [{"name": "", "type": "address"}]}


def modelled() -> RuleKit:
    """Lending reads the pool's spot price (its `pricePool()` view names it, nothing else says so); the ETH feed
    prices the same asset. No manifest hint links them: the model learns it."""
    made = RuleKit(PriceManipulation, without_hints(manifest(), [POOL_VIEW]))
    chain = priced(made.chain)
    chain.on_call(LENDING, "pricePool()(address)", returns=POOL)
    described(chain)
    made.run(block(1))  # the model is learned at the first block
    return made


def moved(k: RuleKit, number: int, reserves: tuple[int, int], feed: int | None = None) -> list:
    """Block `number`: a trade leaves the pool at `reserves`; the feed answers `feed` USD (a new round) if given."""
    trade = tx(USER, POOL)
    k.chain.pool(POOL, USD, ETH, reserves, block=number)
    logs = [sync(*reserves, of=trade)]
    if feed is not None:
        k.chain.feed(FEED, feed * USD8, GENESIS_TIME + 12 * number, round_id=number, block=number)
    return k.run(block(number), txs=[trade], logs=logs)


def test_a_pool_the_protocol_reads_pushed_alone_is_flagged_in_the_block_of_the_push():
    k = modelled()
    found = [f for f in moved(k, 2, (3_000_000 * E, 667 * E)) if f.rule_id.startswith("price-manipulation.source")]
    assert sorted((f.rule_id, f.severity) for f in found) == [
        ("price-manipulation.source-outlier", Severity.HIGH), ("price-manipulation.source-push", Severity.HIGH)]
    assert all(f.addresses[0] == POOL and f.evidence["consumers"] == ["Lending"] for f in found)
    # held there, the next block is the same episode: nothing new
    assert [f for f in moved(k, 3, (3_000_000 * E, 667 * E)) if f.rule_id.endswith("source-outlier")] == []


def test_the_market_moving_everywhere_and_an_honest_trade_are_quiet():
    k = modelled()
    assert [f for f in moved(k, 2, (3_000_000 * E, 667 * E), feed=4_500) if "source" in f.rule_id] == []
    assert [f for f in moved(modelled(), 2, (2_200_000 * E, 910 * E)) if "source" in f.rule_id] == []


ROUTER = "0x" + "5e" * 20  # an oracle router no manifest names


@pytest.mark.parametrize(("via", "learned"), [(None, True), ("router", True), ("watched", True), ("callback", False)],
                         ids=["direct", "through-a-router", "through-a-watched-contract", "in-a-callback"])
def test_a_source_seen_read_in_a_call_trace_joins_the_model(via: str | None, learned: bool):
    """No view of Lending names the pool; a borrow's trace shows Lending reading it: directly, through a router it
    asks for a price, or through a watched contract it calls (a risk manager). From then on the pool is a source
    Lending consumes, and a lone push of it is flagged. What a contract nobody watches reads when Lending calls it
    (a flash-loan callback) is that contract's business."""
    k = RuleKit(PriceManipulation, without_hints(manifest()))
    chain = priced(k.chain)
    described(chain)
    k.run(block(1))
    assert [f for f in moved(k, 2, (3_000_000 * E, 667 * E)) if "source" in f.rule_id] == []  # not known to be read
    borrow = tx(USER, LENDING, block=3)
    chain.set_code(ROUTER, "0x6001")
    inner = [frame(ROUTER if via in ("router", "callback") else PROXY, POOL, "getReserves()", type="STATICCALL")]
    read = {None: frame(LENDING, POOL, "getReserves()", type="STATICCALL"),
            "router": frame(LENDING, ROUTER, "getAssetPrice(address)", ETH, type="STATICCALL", calls=inner),
            "watched": frame(LENDING, PROXY, "borrowAllowed(address)", USER, calls=inner),
            "callback": frame(LENDING, ROUTER, "onFlashLoan(address)", USER, calls=inner)}[via]
    k.run(borrow, trace=frame(USER, LENDING, calls=[read]))
    found = [f for f in moved(k, 4, (4_000_000 * E, 500 * E)) if f.rule_id.endswith("source-push")]
    assert [f.evidence["consumers"] for f in found] == ([["Lending"]] if learned else [])


def test_a_router_that_keeps_a_source_per_market_is_read_by_market():
    """Lending's `oracle()` names a router whose only view of its sources is a lookup by market, `sourceOf(market)`:
    asked for every watched holder, it names the pool, and a lone push of the pool is Lending's concern."""
    oracle_view = {"type": "function", "name": "oracle", "stateMutability": "view", "inputs": [],
                   "outputs": [{"name": "", "type": "address"}]}
    source_of = {"type": "function", "name": "sourceOf", "stateMutability": "view",
                 "inputs": [{"name": "market", "type": "address"}], "outputs": [{"name": "", "type": "address"}]}
    raw = manifest({"name": "Router", "address": ROUTER, "role": "oracle_adapter", "abi": [source_of]})
    k = RuleKit(PriceManipulation, without_hints(raw, [oracle_view]))
    chain = priced(k.chain)
    chain.set_code(ROUTER, "0x6001")
    chain.on_call(LENDING, "oracle()(address)", returns=ROUTER)
    chain.on_call(ROUTER, "sourceOf(address)(address)", [LENDING], returns=POOL)
    described(chain)
    k.run(block(1))
    found = [f for f in moved(k, 2, (4_000_000 * E, 500 * E)) if f.rule_id.endswith("source-push")]
    assert [f.evidence["consumers"] for f in found] == [["Lending"]]
