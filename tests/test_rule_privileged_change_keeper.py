"""privileged-change tells configuration from data: a keeper closing a TWAP window (`Updated` on the watched TWAP
oracle) is routine, while a governance parameter change in the same blocks is still reported."""

from __future__ import annotations

import pytest

from fixtures.detect.kit import follow_manifest

from watchdog.detect.model import Holder, Use
from watchdog.detect.model.keeper import SourceChange, source_changes
from watchdog.rules.privileged_change import PrivilegedChange
from watchdog.scenarios import ImmediatePlayer
from watchdog.scenarios.demo import update_twap


@pytest.mark.parametrize(("event", "kind"), [
    ("Updated", None), ("AnswerUpdated", None), ("PriceUpdated", None), ("IndexUpdated", None), ("UpdatePrice", None),
    ("Sync", None), ("PositionOpened", None),
    ("MaxStalenessChanged", "parameter"), ("LtvSet", "parameter"), ("SetFee", "parameter"), ("FeeUpdated", "parameter"),
    ("UpdateFee", "parameter"), ("NewReserveFactor", "parameter"), ("FeeRecipientUpdated", "parameter"),
    ("SourceChanged", "oracle-source"), ("OracleUpdated", "oracle-source"), ("NewPriceOracle", "oracle-source"),
])
def test_configuration_events_are_changes_and_data_updates_are_not(event, kind):
    assert PrivilegedChange._classify(event, {})[0] == kind


def test_keeper_twap_update_is_routine_while_a_parameter_change_is_reported(world, anvil, tmp_path):
    assert world.manifest.by_name("TwapOracle").role == "twap_oracle"  # watched: its events reach the rule
    twap = world.contract("TwapOracle")
    keeper = ImmediatePlayer(world)
    keeper.pass_time("a TWAP window passes", twap.functions.period().call())
    first = world.w3.eth.block_number + 1
    closed = update_twap(keeper)
    assert closed is not None  # the keeper closed a window: the TWAP oracle emitted `Updated`
    update = closed.tx_hash
    staleness = world.contract("OracleAdapter").functions.maxStaleness().call()
    world.governance_call("OracleAdapter", "setMaxStaleness", staleness + 60)

    records = follow_manifest(world.rpc_url, world.manifest_path, tmp_path, first, world.w3.eth.block_number)
    changes = [r for r in records if r.rule_id.startswith("privileged-change.")]
    assert all(r.tx_hash != update for r in changes)
    assert [(r.title, r.evidence["kind"], r.evidence["by_governance"]) for r in changes] == [
        ("OracleAdapter: MaxStalenessChanged", "parameter", True)]


def test_a_source_is_replaced_only_when_a_view_names_another():
    """Read again after its owner's call, a holder whose `oracle()` names another feed, or no price source at all,
    has had its source replaced; the sources seen only in traces are no view's to change (a pause by the watchdog
    itself is no replacement of what the holder was seen reading)."""
    def holder(*uses: Use) -> Holder:
        made = Holder("0x" + "11" * 20, "Market", "market", "p")
        made.uses = list(uses)
        return made

    old, new, traced = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20
    before = holder(Use(old, "oracle"), Use(traced, "trace"))
    assert source_changes(before, holder(Use(new, "oracle"))) == [SourceChange(before.address, None, "oracle", old, new)]
    assert source_changes(before, holder()) == [SourceChange(before.address, None, "oracle", old, None)]
    assert source_changes(before, holder(Use(old, "oracle"))) == []
    assert source_changes(holder(Use(traced, "trace")), holder()) == []
