"""History is evidence, not an emergency: a daemon started after an attack (from the deployment block) reports
the old attack as historical and sends nothing; a live attack afterwards is paused as usual."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from test_respond_support import PASSWORD, PASSWORD_ENV, keystore, nonce, vault_paused

from watchdog.config import parse_settings
from watchdog.daemon import Daemon
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.scenarios import play_attack
from watchdog.scenarios.demo import FLASH_LOAN_DRAIN, SLOW_DRAIN
from watchdog.store import FindingRecord, Store
from watchdog.store.responder import Action, ActionStatus, IncidentEvent


def test_a_late_start_reports_the_old_attack_as_history_then_pauses_a_live_one(
        world: World, anvil: Anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    keystore(tmp_path, "responder", world.accounts.responder.key)
    old = play_attack(SLOW_DRAIN, world, rounds=1)  # a first slice, while nobody watches
    assert old.succeeded
    anvil.mine(10)  # the chain moves on before the watchdog is started
    settings = parse_settings({
        "networks": {"devnet": {"chain_id": anvil.chain_id, "rpc_urls": [anvil.url]}},  # from the manifest's block
        "protocols": {"demo": {"manifest": str(world.manifest_path)}},
        "metrics": {"enabled": False},
        "playbooks": [{"name": "contain", "when": {"min_severity": "high"},
                       "actions": [{"type": "notify"}, {"type": "pause", "targets": ["CollateralVault"]},
                                   {"type": "propose", "targets": ["CollateralVault"]}]}],
        "signers": {"responder": {"keystore": "responder.json", "password_env": PASSWORD_ENV}},
    }, "test config", tmp_path)
    daemon = Daemon(settings, store=Store(f"sqlite:///{tmp_path / 'wd.db'}"))
    sink = daemon.responder_sink()
    daemon.add_sink(sink)
    start = nonce(anvil, world.accounts.responder.address)
    try:
        daemon.run_once()  # the backfill from the deployment block
        assert sink.responders["devnet"].wait(30)
        with daemon.store.session() as s:
            historical = [f for f in s.exec(select(FindingRecord)).all() if f.tx_hash == old.tx_hash]
            assert historical and all(f.historical for f in historical)
            assert max(f.head_block - f.block_number for f in historical) >= 10
            assert s.exec(select(Action)).all() == []  # no pause sent, no proposal made
            notes = [e.message for e in s.exec(select(IncidentEvent).where(IncidentEvent.kind == "historical")).all()]
            assert notes and "not acted on" in notes[0]
        assert nonce(anvil, world.accounts.responder.address) == start and not vault_paused(anvil, world)

        live = play_attack(FLASH_LOAN_DRAIN, world)  # the rest, now that the watchdog is at the head
        assert live.succeeded
        daemon.run_once()
        assert sink.responders["devnet"].wait(30)
        with daemon.store.session() as s:
            fresh = [f for f in s.exec(select(FindingRecord)).all() if f.tx_hash == live.tx_hash]
            assert fresh and not any(f.historical for f in fresh)
            [action] = [a for a in s.exec(select(Action)).all() if a.kind == "pause"]
        assert action.status == ActionStatus.MINED and vault_paused(anvil, world)
    finally:
        sink.close()
        daemon.store.close()
