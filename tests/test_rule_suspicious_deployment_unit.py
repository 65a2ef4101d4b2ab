"""suspicious-deployment, check by check, on the test kit (no node): a new contract with flash-loan callbacks that
names a core contract and a price source it reads is high, one that names the core contract alone or only a pool
is medium, one with neither is quiet; contracts made by
a watched deployer are always reported; creations inside a transaction and pending ones are found in the trace."""

from __future__ import annotations

from fixtures.detect.paper import ADAPTER, ATTACKER, FEED, LENDING, POOL, manifest

from watchdog.detect import Severity, selector
from watchdog.detect.testing import RuleKit, address, frame, ids, pending, tx
from watchdog.rules.suspicious_deployment import SuspiciousDeployment

NEW, FACTORY = address(0xBEEF), address(0xFAC)
CALLBACK = selector("executeOperation(address,uint256,uint256,address,bytes)")


def code(*, callback: bool, names: str | None) -> str:
    """Runtime code that dispatches on a flash-loan callback (PUSH4 selector) and embeds an address (PUSH20)."""
    return "0x" + ("63" + CALLBACK[2:] if callback else "") + ("73" + names[2:] if names else "") + "00"


def deploy(k: RuleKit, runtime: str, *, sender: str = ATTACKER, traced: bool = True) -> list:
    """A top-level creation of NEW with `runtime` code."""
    k.chain.set_code(NEW, runtime)
    creation = tx(sender, None, "0x6000")
    trace = frame(sender, NEW, type="CREATE", input="0x6000") if traced else None
    if not traced:
        k.chain.add_tx(creation, contract_address=NEW)
    return k.run(creation, trace=trace)


def lending_reads_the_adapter() -> RuleKit:
    """The lending market's `oracle()` view names the spot adapter: the protocol model learns that it reads it."""
    raw = manifest()
    oracle_view = {"type": "function", "name": "oracle", "stateMutability": "view", "inputs": [],
                   "outputs": [{"name": "", "type": "address"}]}
    next(c for c in raw["contracts"] if c["address"] == LENDING)["abi"] = [oracle_view]
    k = RuleKit(SuspiciousDeployment, raw)
    k.chain.on_call(LENDING, "oracle()(address)", returns=ADAPTER)
    k.chain.on_call(ADAPTER, "price()(uint256)", returns=2000 * 10**18)
    return k


def code_naming(*addresses: str) -> str:
    return "0x63" + CALLBACK[2:] + "".join("73" + a[2:] for a in addresses) + "00"


def test_exploit_bytecode_naming_a_core_contract_and_the_price_it_reads_is_high():
    found = deploy(lending_reads_the_adapter(), code_naming(LENDING, ADAPTER))
    assert [(f.rule_id, f.severity, f.key) for f in found] == [("suspicious-deployment.exploit-bytecode", Severity.HIGH, NEW)]
    assert found[0].evidence["flash_callbacks"] == ["executeOperation"] and LENDING in found[0].evidence["watched_references"]
    assert found[0].labels["stage"] == "preparation"


def test_a_looper_naming_the_lender_alone_is_the_medium_preparation_of_an_incident():
    found = deploy(lending_reads_the_adapter(), code_naming(LENDING))
    assert [(f.rule_id, f.severity) for f in found] == [("suspicious-deployment.exploit-bytecode", Severity.MEDIUM)]


def test_callbacks_aimed_at_a_pool_only_are_medium_and_a_plain_integration_is_quiet():
    found = deploy(RuleKit(SuspiciousDeployment, manifest()), code(callback=True, names=POOL))
    assert [(f.rule_id, f.severity) for f in found] == [("suspicious-deployment.exploit-bytecode", Severity.MEDIUM)]
    assert deploy(RuleKit(SuspiciousDeployment, manifest()), code(callback=False, names=FEED)) == []


def test_without_a_tracer_the_receipt_names_the_new_contract():
    found = deploy(RuleKit(SuspiciousDeployment, manifest()), code(callback=True, names=LENDING), traced=False)
    assert ids(found) == ["suspicious-deployment.exploit-bytecode"]


def created_by_factory(k: RuleKit, runtime: str) -> list:
    k.chain.set_code(NEW, runtime)
    made = tx(ATTACKER, FACTORY)
    trace = frame(ATTACKER, FACTORY, calls=[frame(FACTORY, NEW, type="CREATE", input="0x6000")])
    return k.run(made, trace=trace)


def test_internal_creations_are_looked_for_in_watched_factories_or_everywhere():
    exploit = code(callback=True, names=LENDING)
    assert created_by_factory(RuleKit(SuspiciousDeployment, manifest()), exploit) == []  # not traced
    for params in ({"watched_deployers": [FACTORY]}, {"trace_all": True}):
        found = created_by_factory(RuleKit(SuspiciousDeployment, manifest(), params=params), exploit)
        assert [(f.rule_id, f.evidence["creation"]) for f in found] == [
            ("suspicious-deployment.exploit-bytecode", "created internally")], params


def test_every_contract_of_a_watched_deployer_is_reported():
    k = RuleKit(SuspiciousDeployment, manifest(), params={"watched_deployers": [FACTORY]})
    found = created_by_factory(k, code(callback=False, names=None))
    assert [(f.rule_id, f.severity) for f in found] == [("suspicious-deployment.watched-deployer", Severity.INFO)]
    assert found[0].evidence["from_watched_deployer"] is True


def test_a_pending_creation_is_judged_from_its_simulated_code():
    creation = tx(ATTACKER, None, "0x6000")
    trace = frame(ATTACKER, NEW, type="CREATE", input="0x6000", output=code_naming(LENDING, ADAPTER))
    found = lending_reads_the_adapter().run(pending(creation, trace))
    assert [(f.rule_id, f.severity, f.pending) for f in found] == [("suspicious-deployment.exploit-bytecode", Severity.HIGH, True)]


def test_a_reverted_creation_made_nothing():
    trace = frame(ATTACKER, NEW, type="CREATE", input="0x6000", error="execution reverted")
    k = RuleKit(SuspiciousDeployment, manifest())
    k.chain.set_code(NEW, code(callback=True, names=LENDING))
    assert k.run(tx(ATTACKER, None, "0x6000"), trace=trace) == []


def test_checks_off_and_tuned_one_by_one():
    exploit = code(callback=True, names=POOL)
    assert deploy(RuleKit(SuspiciousDeployment, manifest(), checks={"exploit-bytecode": {"min_severity": "high"}}), exploit) == []
    assert deploy(RuleKit(SuspiciousDeployment, manifest(), checks={"exploit-bytecode": {"enabled": False}}), exploit) == []
    watched = RuleKit(SuspiciousDeployment, manifest(), params={"watched_deployers": [FACTORY]},
                      checks={"watched-deployer": {"enabled": False}})
    assert created_by_factory(watched, code(callback=False, names=None)) == []
