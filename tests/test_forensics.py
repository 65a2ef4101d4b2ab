"""Forensics of real attacks on the demo world, checked against the chain: the attacker's net gain and the
victim's loss equal the balance changes the transaction made, the pool it bent is reported with its move, the
attacker's contract with its deployer; the root cause comes from the rules' evidence. Attack stages chain the
incident and show in the post-mortem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.incident import record_attack
from test_proposals import cli
from test_respond_support import PASSWORD, PASSWORD_ENV

from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.forensics import investigate
from watchdog.respond.report import postmortem
from watchdog.scenarios import play_attack
from watchdog.scenarios.demo.attacks import ADMIN_KEY, FLASH_LOAN_SPOT
from watchdog.store import Store, incidents, ledger


def dusd(world: World, holder: str, block: int) -> float:
    return world.contract("dUSD").functions.balanceOf(holder).call(block_identifier=block) / 1e18


def test_flash_loan_attack_forensics(anvil: Anvil, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    rec = record_attack(anvil, world, tmp_path, FLASH_LOAN_SPOT, ["pause"], rounds=1)
    tx = rec.attack_txs()[0]
    with Store(rec.store_url).session() as s:
        findings = ledger.findings_of_tx(s, tx)
    report = json.loads(cli("forensics", tx, "--rpc", anvil.url, "--manifest", str(world.manifest_path),
                            "--store", rec.store_url, "--json"))
    block = report["block"]
    attacker, vault = world.accounts.attacker.address, world.addresses["CollateralVault"]
    gained = dusd(world, attacker, block) - dusd(world, attacker, block - 1)
    lost = dusd(world, vault, block - 1) - dusd(world, vault, block)
    assert gained > 10_000 and lost > gained
    gas_in_dusd = 3_000 * 0.01  # the gas the attacker paid is priced like WETH (at most 0.01 ETH here)
    assert gained - gas_in_dusd < report["attacker_gain"] <= gained
    victims = {v["name"]: v["loss"] for v in report["victims"]}
    assert victims["CollateralVault"] == pytest.approx(lost, rel=1e-9)
    pool = next(s for s in report["sources_moved"] if s["name"] == "WETH-dUSD")
    assert pool["kind"] == "pool" and pool["max_move"] > 0.5 and abs(pool["end_move"]) < 0.02
    assert pool["low"] < pool["before"] * 0.5
    contract = rec.state["contract"].lower()
    assert report["cluster"]["contracts"] == [{"address": contract, "deployer": attacker.lower(),
                                               "created_in": report["cluster"]["contracts"][0]["created_in"]}]
    assert "manipulable price" in report["root_cause"] and findings
    functions = {row["function"] for row in report["call_tree"]}
    assert {"flashLoanSimple(address,address,uint256,bytes,uint16)", "executeOperation(address,uint256,uint256,address,bytes)"} <= functions

    # the incident chained preparation (the exploit contract's deployment) and exploitation, and escalated
    report = postmortem(Store(rec.store_url), rec.incident_id)
    assert [s["stage"] for s in report["stages"]] == ["preparation", "exploitation"]
    with Store(rec.store_url).session() as s:
        stage_events = incidents.events(s, rec.incident_id, kind="stage")
    assert stage_events and stage_events[0].detail["stages"] == ["preparation", "exploitation"]
    assert report["severity_label"] == "critical"


def test_admin_key_drain_forensics(anvil: Anvil, world: World) -> None:
    result = play_attack(ADMIN_KEY, world)
    takeover, drain = [s.tx_hash for s in result.steps if s.tx_hash]
    report = investigate(drain, anvil.url, world.manifest)
    block, vault = report["block"], world.addresses["CollateralVault"]
    lost = dusd(world, vault, block - 1) - dusd(world, vault, block)
    assert lost == pytest.approx(2_000_000)
    assert {v["name"]: v["loss"] for v in report["victims"]}["CollateralVault"] == pytest.approx(lost)
    assert report["attacker_gain"] == pytest.approx(lost, rel=1e-4)  # less the gas
    assert report["sources_moved"] == []  # no price was bent: the keys were
    handover = investigate(takeover, anvil.url, world.manifest)
    assert handover["function"].startswith("execTransaction") and handover["to_name"] == "Safe"
    assert handover["flows"] == [r for r in handover["flows"] if "dUSD" not in r["tokens"]]  # nothing moved but gas
