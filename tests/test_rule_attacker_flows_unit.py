"""attacker-flows, on the test kit (no node): once findings have named an attacker, money coming into its cluster
is funding and money going out to a fresh address or a bridge is laundering; the same moves by anyone else, or to
an address with a history, are quiet. The cluster itself is learned from the actors of findings."""

from __future__ import annotations

from fixtures.detect.paper import ATTACKER, KEEPER, OTHER, USD, USER, E, manifest, priced, transfer

from watchdog.detect import Severity
from watchdog.detect.testing import RuleKit, address, tx
from watchdog.finding import Finding
from watchdog.rules.attacker_flows import AttackerFlows

FRESH, BRIDGE = address(0xF2E5), address(0xB21D)


def named(severity: Severity = Severity.HIGH) -> RuleKit:
    """The kit, after an exploit finding named ATTACKER as its actor (at `severity`)."""
    k = RuleKit(AttackerFlows, manifest({"name": "Bridge", "address": BRIDGE, "role": "other",
                                         "bridge": {"peer_chain_id": 2, "peer": OTHER, "token": "USD"}}))
    priced(k.chain)
    exploit = Finding(rule_id="drain.tx", title="t", severity=severity, confidence=1.0, network="testnet",
                      labels={"actor": ATTACKER}, block_number=1)
    k.engine.clusters.learn([exploit], 1)
    k.chain.set_balance(KEEPER, 10**18)  # an address with a history
    return k


def test_money_into_the_cluster_is_funding_and_out_to_a_fresh_address_laundering():
    k = named()
    funding = k.run(tx(USER, ATTACKER, value=5 * 10**18, block=2))
    assert [(f.rule_id, f.severity, f.labels["stage"]) for f in funding] == [
        ("attacker-flows.funding", Severity.LOW, "funding")]
    laundering = k.run(tx(ATTACKER, FRESH, value=4 * 10**18, block=3))
    assert [(f.rule_id, f.severity, f.labels["stage"]) for f in laundering] == [
        ("attacker-flows.laundering", Severity.MEDIUM, "laundering")]
    assert laundering[0].evidence["member_named_by"] == "drain.tx" and set(laundering[0].addresses) == {ATTACKER, FRESH}


def test_tokens_through_a_bridge_are_laundering_too():
    k = named()
    move = tx(ATTACKER, USD, block=2)
    found = k.run(move, logs=[transfer(USD, ATTACKER, BRIDGE, 50_000 * E)])
    assert [(f.rule_id, f.evidence["counterparty"]) for f in found] == [("attacker-flows.laundering", BRIDGE)]


def test_an_address_with_a_history_strangers_and_a_member_named_below_high():
    k = named()
    assert k.run(tx(ATTACKER, KEEPER, value=10**18, block=2)) == []  # not fresh: it held coin before
    assert k.run(tx(USER, FRESH, value=10**18, block=3)) == []       # nobody of the cluster
    weak = named(Severity.MEDIUM).run(tx(ATTACKER, FRESH, value=10**18, block=2))
    assert [f.severity for f in weak] == [Severity.LOW]
    assert RuleKit(AttackerFlows, manifest()).run(tx(ATTACKER, FRESH, value=10**18)) == []  # nobody named yet


def test_the_cluster_is_the_actors_of_findings_at_medium_or_above():
    k = named()
    low = Finding(rule_id="anomaly.flow", title="t", severity=Severity.LOW, confidence=1.0, network="testnet",
                  labels={"actor": USER}, block_number=2)
    deployment = Finding(rule_id="suspicious-deployment.exploit-bytecode", title="t", severity=Severity.MEDIUM,
                         confidence=1.0, network="testnet", labels={"actor": OTHER, "new_contract": FRESH},
                         block_number=2)
    k.engine.clusters.learn([low, deployment], 2)
    assert set(k.engine.followed()) == {ATTACKER, OTHER, FRESH}
