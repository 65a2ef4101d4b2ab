"""privileged-change, check by check, on the test kit (no node): each kind of change on a watched contract under its
own id, with who did it; expected changes are informational, the Safe's parameter changes weigh less (its
hand-overs do not); a silent EIP-1967 upgrade is critical; keepers' data updates and routine events are quiet."""

from __future__ import annotations

import pytest

from fixtures.detect.paper import (ADAPTER, ATTACKER, FEED, KEEPER, LENDING, OTHER, PROXY, SAFE, TWAP, USD, USD8, E,
                                  described, manifest, priced, transfer, without_hints)

from watchdog.detect import Severity
from watchdog.detect.testing import GENESIS_TIME, RuleKit, block, frame, ids, log, pending, tx
from watchdog.rules.privileged_change import IMPLEMENTATION_SLOT, PrivilegedChange

ADMIN_ROLE = b"\0" * 32
MINTER_ROLE = b"\1" * 32
CHANGES = [  # (check, usual severity, event, arguments)
    ("ownership", Severity.HIGH, "OwnershipTransferred(address indexed previousOwner, address indexed newOwner)",
     (SAFE, ATTACKER)),
    ("ownership", Severity.MEDIUM, "OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner)",
     (OTHER, SAFE)),
    ("role", Severity.MEDIUM, "RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)",
     (MINTER_ROLE, SAFE, SAFE)),
    ("role", Severity.HIGH, "RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)",
     (ADMIN_ROLE, ATTACKER, SAFE)),
    ("role", Severity.MEDIUM, "RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)",
     (MINTER_ROLE, KEEPER, SAFE)),
    ("role-admin", Severity.HIGH, "RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, "
     "bytes32 indexed newAdminRole)", (MINTER_ROLE, ADMIN_ROLE, MINTER_ROLE)),
    ("implementation", Severity.HIGH, "Upgraded(address indexed implementation)", (OTHER,)),
    ("implementation", Severity.HIGH, "BeaconUpgraded(address indexed beacon)", (OTHER,)),
    ("admin", Severity.HIGH, "AdminChanged(address previousAdmin, address newAdmin)", (SAFE, ATTACKER)),
    ("oracle-source", Severity.HIGH, "OracleSet(address oracle)", (OTHER,)),
    ("oracle-source", Severity.HIGH, "NewPriceOracle(address oracle)", (OTHER,)),
    ("parameter", Severity.MEDIUM, "LtvSet(uint256 ltv)", (75,)),
    ("parameter", Severity.MEDIUM, "MaxStalenessChanged(uint256 staleness)", (3600,)),
    ("unpause", Severity.MEDIUM, "Unpaused(address account)", (SAFE,)),
]


def kit(*extra: dict, **kw) -> RuleKit:
    return RuleKit(PrivilegedChange, manifest(*extra, safe=SAFE), **kw)


def change(event: str, *args, sender: str = ATTACKER, on: str = LENDING, **kw) -> tuple:
    made = tx(sender, on, **kw)
    return made, [log(on, event, *args)]


@pytest.mark.parametrize(("check", "severity", "event", "args"), CHANGES, ids=[c[2].split("(")[0] + f"-{c[1].value}" for c in CHANGES])
def test_each_kind_of_change_has_its_check(check, severity, event, args):
    made, logs = change(event, *args)
    found = kit().run(made, logs=logs, trace=frame(ATTACKER, LENDING))
    assert [(f.rule_id, f.severity) for f in found] == [(f"privileged-change.{check}", severity)]
    assert found[0].evidence["sender"] == ATTACKER and found[0].evidence["by_governance"] is False


@pytest.mark.parametrize(("event", "args"), [
    ("OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner)", (SAFE, ATTACKER)),
    ("RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)", (MINTER_ROLE, ATTACKER, SAFE)),
])
def test_a_key_of_a_core_contract_handed_to_a_stranger_is_high_before_any_funds_move(event, args):
    made, logs = change(event, *args)
    assert [f.severity for f in kit().run(made, logs=logs, trace=frame(ATTACKER, LENDING))] == [Severity.HIGH]
    to_the_safe = change(event, *(SAFE if a == ATTACKER else a for a in args))
    assert [f.severity for f in kit().run(to_the_safe[0], logs=to_the_safe[1], trace=frame(ATTACKER, LENDING))] == [
        Severity.MEDIUM]


def test_the_safes_parameter_change_weighs_less_but_its_hand_over_does_not():
    made, logs = change("LtvSet(uint256 ltv)", 90, sender=KEEPER, on=LENDING)
    trace = frame(KEEPER, SAFE, calls=[frame(SAFE, LENDING)])
    found = kit().run(made, logs=logs + [log(LENDING, "OracleSet(address oracle)", OTHER)], trace=trace)
    assert [(f.rule_id, f.severity, f.evidence["by_governance"]) for f in found] == [
        ("privileged-change.parameter", Severity.LOW, True), ("privileged-change.oracle-source", Severity.HIGH, True)]


def test_an_expected_change_is_information_and_another_value_is_not():
    expected = {"expected": [{"contract": "Lending", "event": "LtvSet", "args": {"ltv": 75}}]}
    made, logs = change("LtvSet(uint256 ltv)", 75)
    found = kit(params=expected).run(made, logs=logs, trace=frame(ATTACKER, LENDING))
    assert [(f.rule_id, f.severity, f.evidence["expected"]) for f in found] == [("privileged-change.parameter", Severity.INFO, True)]
    made, logs = change("LtvSet(uint256 ltv)", 99)
    assert [f.severity for f in kit(params=expected).run(made, logs=logs, trace=frame(ATTACKER, LENDING))] == [Severity.MEDIUM]


def test_keepers_data_updates_and_routine_events_are_no_change():
    twap = {"name": "Twap", "address": TWAP, "role": "twap_oracle"}
    made = tx(KEEPER, TWAP)
    logs = [log(TWAP, "Updated(uint256 price, uint256 timestamp)", 2000, 1), log(TWAP, "PriceUpdated(uint256 price)", 2000),
            log(LENDING, "Supplied(address user, uint256 amount)", KEEPER, 5), transfer(USD, KEEPER, LENDING, E)]
    assert kit(twap).run(made, logs=logs) == []


def test_changes_of_tokens_and_unwatched_contracts_are_not_the_protocols():
    made, logs = change("OwnershipTransferred(address indexed previousOwner, address indexed newOwner)", SAFE, ATTACKER, on=USD)
    assert kit().run(made, logs=logs) == []
    made, logs = change("OwnershipTransferred(address indexed previousOwner, address indexed newOwner)", SAFE, ATTACKER, on=OTHER)
    assert kit().run(made, logs=logs) == []


def test_silent_upgrade_of_an_eip1967_slot():
    k = kit()
    k.chain.set_storage(PROXY, IMPLEMENTATION_SLOT, int(OTHER, 16))
    k.chain.set_storage(PROXY, IMPLEMENTATION_SLOT, int(ATTACKER, 16), block=8)
    found = k.run(tx(ATTACKER, PROXY, block=8))
    assert [(f.rule_id, f.severity, f.tx_hash) for f in found] == [("privileged-change.silent-upgrade", Severity.CRITICAL, None)]
    assert found[0].evidence["after"].endswith(ATTACKER[2:])


def test_announced_upgrade_is_no_silent_one_and_untouched_slots_are_quiet():
    k = kit()
    k.chain.set_storage(PROXY, IMPLEMENTATION_SLOT, int(OTHER, 16))
    k.chain.set_storage(PROXY, IMPLEMENTATION_SLOT, int(ATTACKER, 16), block=8)
    found = k.run(tx(ATTACKER, PROXY, block=8), logs=[log(PROXY, "Upgraded(address indexed implementation)", ATTACKER)])
    assert ids(found) == ["privileged-change.implementation"]
    assert kit().run(tx(ATTACKER, PROXY, block=9)) == []
    assert kit().run(block(9)) == []


def test_a_pending_hand_over_is_flagged_before_it_lands():
    made, logs = change("OwnershipTransferred(address indexed previousOwner, address indexed newOwner)", SAFE, ATTACKER)
    found = kit().run(pending(made, frame(ATTACKER, LENDING), logs))
    assert [(f.rule_id, f.pending) for f in found] == [("privileged-change.ownership", True)]


def test_checks_off_one_by_one():
    made, logs = change("LtvSet(uint256 ltv)", 99)
    quiet = kit(checks={"parameter": {"enabled": False}})
    found = quiet.run(made, logs=logs + [log(LENDING, "Unpaused(address account)", SAFE)], trace=frame(ATTACKER, LENDING))
    assert ids(found) == ["privileged-change.unpause"]
    made, logs = change("LtvSet(uint256 ltv)", 99)
    assert quiet.run(made, logs=logs, trace=frame(ATTACKER, LENDING)) == []
    k = kit(checks={"silent-upgrade": {"enabled": False}})
    k.chain.set_storage(PROXY, IMPLEMENTATION_SLOT, int(ATTACKER, 16), block=8)
    assert k.run(tx(ATTACKER, PROXY, block=8)) == []


NEW_FEED = "0x" + "fe" * 20


@pytest.mark.parametrize(("answer", "severity"), [(2_010, Severity.MEDIUM), (200_000, Severity.HIGH), (0, Severity.HIGH)],
                         ids=["in-line", "100x", "no-price"])
def test_an_oracle_rotation_is_weighed_by_what_the_new_source_says(answer: int, severity: Severity):
    """The owner points the adapter at another ETH / USD feed: in line with the pool and the old feed it is a
    rotation to review (medium, nothing paused); far off, or without a price, it is the start of an attack."""
    k = kit()
    priced(k.chain)
    k.chain.set_code(NEW_FEED, "0x6001")
    k.chain.feed(NEW_FEED, answer * USD8, GENESIS_TIME)
    described(k.chain, NEW_FEED)
    made, logs = change("FeedUpdated(address feed)", NEW_FEED, on=ADAPTER)
    found = k.run(made, logs=logs, trace=frame(ATTACKER, ADAPTER))
    assert [(f.rule_id, f.severity) for f in found] == [("privileged-change.oracle-source", severity)]
    [appraised] = found[0].evidence["new_sources"]
    assert appraised["address"] == NEW_FEED and appraised["witnesses"] if answer else appraised["price"] is None


ORACLE_VIEW = {"type": "function", "name": "oracle", "stateMutability": "view", "inputs": [],
               "outputs": [{"name": "", "type": "address"}]}


@pytest.mark.parametrize(("answer", "severity"), [(2_010, Severity.MEDIUM), (200_000, Severity.HIGH)], ids=["in-line", "100x"])
def test_an_adapter_pointed_at_another_feed_is_a_source_change_for_its_consumers(answer: int, severity: Severity):
    """Lending reads the adapter (its `oracle()` view), the adapter reads a feed (its `feed()` view). A call to the
    adapter points it at another feed, with no event: the adapter is read again in that block, and Lending now
    reads the new feed: in line with the pool and the old feed a change to review, far off the start of an
    attack."""
    k = RuleKit(PrivilegedChange, without_hints(manifest(), [ORACLE_VIEW]))
    priced(k.chain)
    k.chain.on_call(LENDING, "oracle()(address)", returns=ADAPTER)
    k.chain.on_call(ADAPTER, "feed()(address)", returns=FEED)
    k.chain.set_code(NEW_FEED, "0x6001")
    k.chain.feed(NEW_FEED, answer * USD8, GENESIS_TIME)
    described(k.chain, NEW_FEED)
    k.run(block(1))  # the model is learned
    k.chain.on_call(ADAPTER, "feed()(address)", returns=NEW_FEED, block=2)
    found = k.run(tx(ATTACKER, ADAPTER, block=2))
    assert [(f.rule_id, f.severity) for f in found] == [("privileged-change.source-replaced", severity)]
    assert found[0].evidence["before"] == FEED.lower() and found[0].evidence["after"] == NEW_FEED.lower()


def test_a_keepers_repeated_update_is_not_read_again_but_a_new_call_is():
    """The adapter's inputs are read again once per distinct call: a keeper's identical update that swapped
    nothing is not re-read every block, while a different call (another feed named) is."""
    k = RuleKit(PrivilegedChange, without_hints(manifest(), [ORACLE_VIEW]))
    priced(k.chain)
    k.chain.on_call(LENDING, "oracle()(address)", returns=ADAPTER)
    k.chain.on_call(ADAPTER, "feed()(address)", returns=FEED)
    k.chain.set_code(NEW_FEED, "0x6001")
    k.chain.feed(NEW_FEED, 200_000 * USD8, GENESIS_TIME)
    described(k.chain, NEW_FEED)
    k.run(block(1))
    for number in (2, 3):
        assert k.run(tx(KEEPER, ADAPTER, "0xa2e62045", block=number)) == []  # update()
    k.chain.on_call(ADAPTER, "feed()(address)", returns=NEW_FEED, block=4)
    assert k.run(tx(KEEPER, ADAPTER, "0xa2e62045", block=4)) == []  # calldata that changed nothing is not read again
    found = k.run(tx(ATTACKER, ADAPTER, "0x4d3a6f3a" + "00" * 12 + NEW_FEED[2:], block=5))
    assert [(f.rule_id, f.severity) for f in found] == [("privileged-change.source-replaced", Severity.HIGH)]
