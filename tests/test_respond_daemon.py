"""End to end on the demo world: the daemon's rules see the flash-loan attack, the responder (its sink)
pauses the protocol once, in the next block; benign traffic pauses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from test_respond_support import PASSWORD, PASSWORD_ENV, keystore, nonce, vault_paused
from watchdog.config import parse_settings
from watchdog.daemon import Daemon
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.respond.sink import ResponderSink
from watchdog.scenarios import play_attack, play_traffic
from watchdog.scenarios.demo import BENIGN_TRAFFIC, FLASH_LOAN_DRAIN
from watchdog.store import FindingRecord, Store
from watchdog.store.responder import Action, Incident


@pytest.fixture
def watched(world: World, anvil: Anvil, tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Anvil, World, Daemon, ResponderSink]]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    keystore(tmp_path, "responder", world.accounts.responder.key)
    settings = parse_settings({
        "networks": {"devnet": {"chain_id": anvil.chain_id, "rpc_urls": [anvil.url], "start_block": anvil.block_number() + 1}},
        "protocols": {"demo": {"manifest": str(world.manifest_path)}},
        "metrics": {"enabled": False},
        "playbooks": [{"name": "contain", "when": {"min_severity": "high"},
                       "actions": [{"type": "pause", "targets": ["CollateralVault"]}]}],
        "signers": {"responder": {"keystore": "responder.json", "password_env": PASSWORD_ENV}},
    }, "test config", tmp_path)
    daemon = Daemon(settings, store=Store(store_url))
    sink = daemon.responder_sink()
    daemon.add_sink(sink)
    sink.start()
    yield anvil, world, daemon, sink
    sink.close()
    daemon.store.close()


def test_attack_is_paused_once_in_the_next_block(watched) -> None:
    anvil, w, daemon, sink = watched
    start = nonce(anvil, w.accounts.responder.address)
    daemon.run_once()
    attack = play_attack(FLASH_LOAN_DRAIN, w)
    assert attack.succeeded
    daemon.run_once()
    assert sink.responders["devnet"].wait(30)
    with daemon.store.session() as s:
        findings = s.exec(select(FindingRecord)).all()
        actions = s.exec(select(Action)).all()
        incident = s.exec(select(Incident)).one()
    assert any(f.tx_hash == attack.tx_hash for f in findings)
    (action,) = actions
    assert action.status == "mined" and action.block_number <= attack.block_number + 1
    assert nonce(anvil, w.accounts.responder.address) == start + 1 and vault_paused(anvil, w)
    assert incident.status == "contained"
    # the daemon keeps running: later blocks with more findings do not pause again
    daemon.run_once()
    assert sink.responders["devnet"].wait(30)
    assert nonce(anvil, w.accounts.responder.address) == start + 1


def test_benign_traffic_pauses_nothing(watched) -> None:
    anvil, w, daemon, sink = watched
    start = nonce(anvil, w.accounts.responder.address)
    play_traffic(BENIGN_TRAFFIC, w, rounds=4)
    daemon.run_once()
    assert sink.responders["devnet"].wait(30)
    with daemon.store.session() as s:
        assert s.exec(select(Action)).all() == []
    assert nonce(anvil, w.accounts.responder.address) == start and not vault_paused(anvil, w)
