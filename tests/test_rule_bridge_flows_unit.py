"""bridge-flows with no node: a remote chain whose logs and answers are programmed, deliveries on the local one."""

from __future__ import annotations

from watchdog.detect.testing import FakeChain, RuleKit, address, block, ids, log, tick, tx
from watchdog.chain.rpc import RpcUnavailable
from watchdog.finding import Severity

from watchdog.rules.bridge_flows import BridgeFlows, learned_deadline, topics_for

HOME, REMOTE = 31337, 31338
ESCROW, ALP = address(0xE5), address(0xA1)
MINTER, LEGACY, WRAPPED, MARKET, RELAYED, GUARDIAN = (address(n) for n in (0xB1, 0xB2, 0xBA, 0xCC, 0xFE, 0x6A))
SOURCE_FEED = address(0xF1)
ALICE, BOB, RELAYER = address(0x11), address(0x22), address(0x33)
SENT = BridgeFlows.params["sent_event"]
DELIVERED = BridgeFlows.params["delivered_event"]
TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
ANSWER = "AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)"
ZERO = address(0)

BRIDGE = {"peer_chain_id": HOME, "peer": ESCROW, "token": "bALP"}
MANIFEST = {"chain_id": REMOTE, "contracts": [
    {"name": "BridgeMinter", "address": MINTER, "role": "other", "bridge": BRIDGE, "pause": {"via": "self"}},
    {"name": "BridgeMinterV1", "address": LEGACY, "role": "other", "bridge": BRIDGE, "pause": {"via": "self"}},
    {"name": "bALP", "address": WRAPPED, "role": "token", "bridged_from": {"chain_id": HOME, "token": ALP}},
    {"name": "Market", "address": MARKET, "role": "lending", "collateral": ["bALP"],
     "pause": {"via": "guardian", "guardian": GUARDIAN}},
    {"name": "Relayed", "address": RELAYED, "role": "oracle_feed", "asset": "bALP",
     "source": {"chain_id": HOME, "feed": SOURCE_FEED}},
]}


def message_id(nonce: int, amount: int = 10**18) -> bytes:
    return bytes([nonce]) + amount.to_bytes(31, "big")


def kit(**params) -> tuple[RuleKit, FakeChain]:
    home = FakeChain("home")
    home.head = block(1)
    return RuleKit(BridgeFlows, MANIFEST, params=params, chains={HOME: home}), home


def lock(home: FakeChain, at: int, nonce: int, amount: int = 10**18, recipient: str = ALICE) -> None:
    """A lock on the home chain at block `at` (its head moves there)."""
    sent = tx(ALICE, ESCROW, block=at, index=0)
    home.add_tx(sent, [log(ESCROW, SENT, message_id(nonce, amount), REMOTE, nonce, ALICE, recipient, amount, of=sent)])
    home.head = block(at)


def deliver(k: RuleKit, at: int, nonce: int, amount: int = 10**18, recipient: str = ALICE, by: str = MINTER,
            message: bytes | None = None) -> list:
    mint = tx(RELAYER, by, block=at)
    logs = [log(by, DELIVERED, message or message_id(nonce, amount), HOME, nonce, ALICE, recipient, amount),
            log(WRAPPED, TRANSFER, ZERO, recipient, amount)]
    return k.run(mint, logs=logs)


def quiet_supply(k: RuleKit, home: FakeChain, supply: int = 10**24, escrowed: int = 10**24) -> None:
    k.chain.on_call(WRAPPED, "totalSupply()(uint256)", returns=supply)
    home.on_call(ALP, "balanceOf(address)(uint256)", [ESCROW], returns=escrowed)


def test_an_honest_deposit_is_matched_and_its_latency_learned():
    k, home = kit()
    quiet_supply(k, home)
    k.run(block(10))  # the first poll: follows the home chain from its head on
    lock(home, 11, nonce=1)
    assert k.run(block(12)) == []
    assert deliver(k, 14, nonce=1) == []
    state = k.engine.state.get("bridge-flows", f"route:{HOME}:{ESCROW}")
    assert state["pending"] == {} and state["latencies"] == [36]  # home block 11 to remote block 14, 12 s a block


def test_a_mint_without_a_lock_is_critical_and_names_the_route_on_both_chains():
    k, home = kit()
    quiet_supply(k, home)
    k.run(block(10))
    found = deliver(k, 11, nonce=1, amount=50 * 10**18, recipient=BOB)
    assert ids(found) == ["bridge-flows.unmatched"]
    forged = found[0]
    assert forged.severity is Severity.CRITICAL and forged.tx_hash is not None
    assert {MINTER, MARKET, BOB} <= set(forged.addresses) and LEGACY not in forged.addresses
    assert forged.labels["targets"] == {str(HOME): [ESCROW]}
    assert forged.labels["routes"] == [f"{HOME}:{ESCROW}|{REMOTE}:{MINTER}"]


def test_a_delivery_that_changes_the_amount_of_its_lock_is_unmatched():
    k, home = kit()
    quiet_supply(k, home)
    k.run(block(10))
    lock(home, 11, nonce=1, amount=10**18)
    found = deliver(k, 12, nonce=1, amount=10**21, message=message_id(1, 10**18))
    assert ids(found) == ["bridge-flows.unmatched"] and "amount" in found[0].description


def test_a_delivered_nonce_minted_again_by_the_legacy_minter_is_a_replay():
    k, home = kit()
    quiet_supply(k, home)
    k.run(block(10))
    lock(home, 11, nonce=1)
    assert deliver(k, 12, nonce=1) == []
    found = deliver(k, 13, nonce=1, by=LEGACY)
    assert ids(found) == ["bridge-flows.replay"]
    replay = found[0]
    assert LEGACY in replay.addresses and MINTER not in replay.addresses and MARKET in replay.addresses
    assert replay.evidence["first_delivery"]["receiver"] == MINTER


def test_a_skipped_nonce_is_information_only():
    k, home = kit()
    quiet_supply(k, home)
    k.run(block(10))
    for nonce in (1, 2, 3):
        lock(home, 10 + nonce, nonce=nonce)
    assert deliver(k, 14, nonce=1) == []
    skipped = deliver(k, 15, nonce=3)
    assert ids(skipped) == ["bridge-flows.out-of-order"] and skipped[0].severity is Severity.LOW
    assert deliver(k, 16, nonce=2) == []


def test_a_stuck_relayer_is_overdue_once_past_the_learned_deadline():
    k, home = kit()
    quiet_supply(k, home)
    k.run(block(10))
    for nonce in (1, 2, 3):  # three deliveries of 24 s: the route's deadline becomes max(60, 3 x 24)
        lock(home, 10 + 2 * nonce, nonce=nonce)
        assert deliver(k, 12 + 2 * nonce, nonce=nonce) == []
    lock(home, 20, nonce=4)  # never delivered
    assert k.run(block(21)) == []
    assert k.run(block(25)) == []  # 60 s after the lock: inside the deadline
    found = k.run(block(26))  # 72 s after it
    assert ids(found) == ["bridge-flows.overdue"]
    overdue = found[0]
    assert overdue.evidence["deadline_seconds"] == 72 and overdue.evidence["deadline_learned"]
    assert overdue.labels["targets"] == {str(HOME): [ESCROW]} and {MINTER, MARKET} <= set(overdue.addresses)
    assert LEGACY not in overdue.addresses  # the route delivers through the current minter only
    assert k.run(block(27)) == []  # said once


def test_before_warmup_the_default_deadline_applies():
    assert learned_deadline([], BridgeFlows.params) == 3600
    assert learned_deadline([5, 5, 5], BridgeFlows.params) == 60
    assert learned_deadline([5, 40, 5], BridgeFlows.params) == 120


def test_a_delivery_judged_while_the_home_chain_is_unreadable_is_judged_later():
    k, home = kit()
    quiet_supply(k, home)
    k.run(block(10))
    home.head = None  # the home node does not answer
    assert deliver(k, 11, nonce=1) == []
    home.head = block(12)
    found = k.run(block(13))
    assert ids(found) == ["bridge-flows.unmatched"] and "unreadable" in found[0].description


def test_a_mint_that_lifts_the_supply_above_the_escrow_is_critical():
    k, home = kit()
    k.run(block(10))
    lock(home, 11, nonce=1, amount=10**18)
    quiet_supply(k, home, supply=3 * 10**18, escrowed=10**18)
    found = deliver(k, 12, nonce=1)
    assert ids(found) == ["bridge-flows.supply"]
    assert found[0].labels["targets"] == {str(HOME): [ESCROW]} and found[0].evidence["unbacked"] == str(2 * 10**18)


def test_a_relayed_price_far_from_its_source_is_high_once_per_round():
    k, home = kit()
    home.feed(SOURCE_FEED, answer=2 * 10**8, updated_at=1)
    k.chain.feed(RELAYED, answer=3 * 10**8, updated_at=1, round_id=7)
    relay = tx(RELAYER, RELAYED)
    found = k.run(relay, logs=[log(RELAYED, ANSWER, 3 * 10**8, 7, 1)])
    assert ids(found) == ["bridge-flows.price"] and MARKET in found[0].addresses
    assert k.run(tick(block(5))) == []  # the same relayed round: said once


def test_a_relayed_price_that_follows_its_source_is_quiet():
    k, home = kit()
    home.feed(SOURCE_FEED, answer=2 * 10**8, updated_at=1)
    k.chain.feed(RELAYED, answer=204 * 10**6, updated_at=1)
    assert k.run(tx(RELAYER, RELAYED), logs=[log(RELAYED, ANSWER, 204 * 10**6, 1, 1)]) == []
    assert k.run(tick(block(5))) == []


def test_topic_filters_fix_only_indexed_arguments():
    from watchdog.detect.abi import EventSpec

    spec = EventSpec.parse(SENT)
    assert topics_for(spec, destinationChainId=5) == [spec.topic0, None, "0x" + "0" * 63 + "5"]
    assert topics_for(spec, id="0x" + "ab" * 32, amount=3) == [spec.topic0, "0x" + "ab" * 32]


class DownChain(FakeChain):
    """A home node that does not answer at all (every endpoint failed)."""

    asked = 0

    def latest_block(self):
        self.asked += 1
        raise RpcUnavailable("every endpoint failed")


def test_a_home_node_that_is_down_is_left_alone_and_deliveries_wait_for_it():
    home = DownChain("home")
    k = RuleKit(BridgeFlows, MANIFEST, chains={HOME: home})
    k.chain.on_call(WRAPPED, "totalSupply()(uint256)", returns=0)
    assert deliver(k, 11, nonce=1) == [] and k.run(block(12)) == []
    assert home.asked == 1  # not asked again while it rests: detection here never waits for it
    state = k.engine.state.get("bridge-flows", f"route:{HOME}:{ESCROW}")
    assert [item["nonce"] for item in state["unverified"]] == [1]
