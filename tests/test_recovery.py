"""Recovery that proves the fix, on the demo world: after a contained attack, the plan's checks fail and the attack
replayed on a fork with the pause lifted still succeeds, so no unpause is drafted; once governance applies the
fix, every check holds, the replay fails, and the Safe's unpause is drafted (and shown by the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils import to_checksum_address
from fixtures.incident import record_attack
from test_proposals import cli
from test_respond_support import PASSWORD, PASSWORD_ENV

from watchdog.devnet import Anvil
from watchdog.devnet.world import E18, World
from watchdog.recovery import recover
from watchdog.scenarios.demo.attacks import ADMIN_KEY, FLASH_LOAN_SPOT
from watchdog.store import Store, incidents, proposals

SENTINEL = "0x0000000000000000000000000000000000000001"


@pytest.fixture(autouse=True)
def responder_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def states(plan: dict) -> dict[str, bool]:
    return {c["id"]: c["holds"] for c in plan["checks"]}


def test_flash_loan_recovery_waits_for_the_oracle_fix(anvil: Anvil, world: World, tmp_path: Path) -> None:
    rec = record_attack(anvil, world, tmp_path, FLASH_LOAN_SPOT, ["pause"], rounds=2)
    assert [s.succeeded for s in rec.steps] == [True, False]  # the second round hits the pause
    store = Store(rec.store_url)
    vault = world.contract("dUSD").functions.balanceOf(world.addresses["CollateralVault"])
    before = vault.call(block_identifier=rec.first_block - 1)

    plan = recover(store, rec.incident_id, anvil.url, world.manifest)
    assert states(plan) == {"price-in-band": True, "spot-insensitive": False, "balances-reconciled": False}
    assert plan["replay"]["succeeded"] and plan["replay"]["attacker_gain"] > 10_000
    assert rec.attack_txs()[1] in {t["tx"] for t in plan["replay"]["transactions"]}  # the round the pause stopped too
    assert all(x["lifted"] for x in plan["replay"]["pause_lifted"])
    assert not plan["ready"] and plan["unpause"] == []
    assert plan["grace"] and plan["grace"][0]["seconds"] == 3600  # liquidations wait after the unpause
    with store.session() as s:
        assert proposals.proposals(s) == []

    # the fix: the adapter reads the TWAP, and the pool gets back what it lost
    world.set_oracle_source("twap")
    world.send(world.contract("dUSD").functions.mint(world.addresses["CollateralVault"], before - vault.call()), "deployer")
    anvil.mine(5)
    plan = recover(store, rec.incident_id, anvil.url, world.manifest)
    assert states(plan) == {"price-in-band": True, "spot-insensitive": True, "balances-reconciled": True}, plan["checks"]
    assert not plan["replay"]["succeeded"] and (plan["replay"]["attacker_gain"] or 0) <= 0
    assert plan["ready"] and {u["contract"] for u in plan["unpause"]} == {"CollateralVault", "PerpMarket"}
    with store.session() as s:
        drafted = proposals.proposals(s)
        kinds = [e.kind for e in incidents.events(s, rec.incident_id)]
    assert {p.evidence["call"]["function"] for p in drafted} == {"unpause(bytes32)"}
    assert kinds.count("recovery") == 2


def test_admin_key_recovery_waits_for_the_keys_and_the_vault(anvil: Anvil, world: World, tmp_path: Path) -> None:
    rec = record_attack(anvil, world, tmp_path, ADMIN_KEY, ["pause"])
    assert [s.succeeded for s in rec.steps] == [True, False]  # takeover mined, the drain stopped by the pause
    db = rec.store_url
    out = json.loads(cli("recover", str(rec.incident_id), "--rpc", anvil.url, "--store", db,
                         "--manifest", str(world.manifest_path), "--json"))
    assert states(out) == {"keys-revoked": False, "pointers-reverted": False}
    compromised = {a.address.lower() for a in world.accounts.safe_owners[:2]}
    assert set(out["checks"][0]["evidence"]["compromised"]) == compromised
    assert out["replay"]["succeeded"] and out["replay"]["attacker_gain"] >= 2_000_000  # the drain would now go through
    assert not out["ready"] and out["unpause"] == []

    # the fix: the honest owner and a key holder replace both compromised owners; the vault comes back to the Safe
    safe = world.contract("Safe")
    owner3 = world.accounts.safe_owners[2]
    for n, old in enumerate(world.accounts.safe_owners[:2]):
        owners = [o.lower() for o in safe.functions.getOwners().call()]
        at = owners.index(old.address.lower())
        prev = to_checksum_address(SENTINEL if at == 0 else owners[at - 1])
        fresh = to_checksum_address(f"0x{0xc0ffee00 + n:040x}")
        world.safe_exec(safe.address, safe.encode_abi("swapOwner", [prev, old.address, fresh]), [owner3, old])
    vault = world.contract("CollateralVault")
    drainer = rec.state["contract"]
    anvil.rpc("anvil_impersonateAccount", [drainer])  # stands in for redeploying the vault under the Safe
    anvil.rpc("anvil_setBalance", [drainer, hex(E18)])
    vault.functions.transferOwnership(safe.address).transact({"from": drainer})
    anvil.rpc("anvil_stopImpersonatingAccount", [drainer])

    text = cli("recover", str(rec.incident_id), "--rpc", anvil.url, "--store", db, "--manifest", str(world.manifest_path))
    assert "ready to unpause" in text and "Unpause drafted" in text and "FAILS" not in text
    with Store(db).session() as s:
        plan = incidents.events(s, rec.incident_id, kind="recovery")[-1].detail["plan"]
    assert states(plan) == {"keys-revoked": True, "pointers-reverted": True}
    assert not plan["replay"]["succeeded"]
    assert any("not an owner" in t["note"] for t in plan["replay"]["transactions"])
