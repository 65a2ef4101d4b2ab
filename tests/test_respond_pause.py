"""The pause executor on anvil with the real guardian: one pause per attack, never two, re-priced, pre-emptive."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from test_respond_support import PASSWORD, PASSWORD_ENV, attack_finding, config, nonce, vault_paused
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.respond import Responder
from watchdog.errors import RpcError
from watchdog.chain.abi import selector
from watchdog.respond.rpc import Rpc
from watchdog.scenarios.demo import deploy_flash_loan_attacker, send_flash_loan_spot_attack
from watchdog.store import Store
from watchdog.store.responder import Action, ActionAttempt, Incident, IncidentEvent

GWEI = 10**9


@pytest.fixture
def world(world: World, anvil: Anvil, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Anvil, World]]:
    """The session's demo world (reverted after each test) as (anvil, world)."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    yield anvil, world
    anvil.set_automine(True)
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(GWEI)])  # a fee override outlives evm_revert


def wait_until(predicate, timeout: float = 20.0) -> bool:
    """Synchronise with the executor's background watcher (not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def actions(store: Store) -> list[Action]:
    with store.session() as s:
        return list(s.exec(select(Action)).all())


def attempts(store: Store) -> list[ActionAttempt]:
    with store.session() as s:
        return list(s.exec(select(ActionAttempt)).all())

def mine_until_paused(anvil: Anvil, store: Store, blocks: int) -> None:
    """Mine up to `blocks` blocks, each time letting the executor mine or re-price its pause."""
    for _ in range(blocks):
        seen = len(attempts(store))
        anvil.mine(1)
        wait_until(lambda: actions(store)[0].status == "mined" or len(attempts(store)) > seen, 5)
        if actions(store)[0].status == "mined":
            return



def test_attack_finding_gives_one_pause_mined_within_one_block(world, tmp_path: Path) -> None:
    anvil, w = world
    responder_address = w.accounts.responder.address
    start = nonce(anvil, responder_address)
    attack_block = anvil.block_number()  # the attack's block (already committed by the daemon)
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"]), store, anvil.url, w.manifest)
    result = responder.handle([attack_finding(w, block=attack_block)], [])
    assert responder.wait(30)
    assert len(result.pauses) == 1 and result.pauses[0].sent
    (action,) = actions(store)
    assert action.status == "mined"
    assert action.block_number is not None and action.block_number <= attack_block + 1
    assert vault_paused(anvil, w)
    assert nonce(anvil, responder_address) == start + 1
    # the same finding again, and another finding of the same attack: no second transaction
    responder.handle([attack_finding(w, block=attack_block), attack_finding(w, block=attack_block + 1, n=1)], [])
    assert responder.wait(30)
    assert nonce(anvil, responder_address) == start + 1
    with store.session() as s:
        incidents = s.exec(select(Incident)).all()
        kinds = [e.kind for e in s.exec(select(IncidentEvent)).all()]
    assert len(incidents) == 1 and incidents[0].status == "contained"
    assert "contained" in kinds and kinds.count("pause") == 1
    responder.close()


def test_benign_finding_below_the_playbook_sends_nothing(world, tmp_path: Path) -> None:
    anvil, w = world
    start = nonce(anvil, w.accounts.responder.address)
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"]), store, anvil.url, w.manifest)
    quiet = attack_finding(w, block=anvil.block_number())
    quiet.severity = quiet.severity.__class__("medium")  # below the playbook's default (high)
    result = responder.handle([quiet], [])
    assert responder.wait(10)
    assert result.pauses == [] and actions(store) == []
    assert nonce(anvil, w.accounts.responder.address) == start and not vault_paused(anvil, w)
    responder.close()


def test_fifty_concurrent_triggers_give_one_transaction(world, tmp_path: Path, store_url: str) -> None:
    anvil, w = world
    address = w.accounts.responder.address
    start = nonce(anvil, address)
    # two responders on one database, as two daemons would be
    responders = [Responder(config(tmp_path, w, ["pause"]), Store(store_url), anvil.url, w.manifest) for _ in range(2)]
    block = anvil.block_number()
    barrier = threading.Barrier(50)
    errors: list[BaseException] = []

    def trigger(i: int) -> None:
        try:
            barrier.wait()
            responders[i % 2].handle([attack_finding(w, block=block, n=i)], [])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=trigger, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for r in responders:
        assert r.wait(30)
    store = Store(store_url)
    assert len(actions(store)) == 1 and actions(store)[0].status == "mined"
    assert len(attempts(store)) == 1
    assert nonce(anvil, address) == start + 1 and vault_paused(anvil, w)
    for r in responders:
        r.close()


CRASH_SCRIPT = """
import os, sys
from watchdog.manifest import load_manifest
from watchdog.config.response import ResponseConfig
from watchdog.respond import Responder
from watchdog.errors import RpcError
from watchdog.chain.abi import selector
from watchdog.respond.rpc import Rpc
from watchdog.store import Store
from test_respond_support import attack_finding
from watchdog.devnet.world import load_world

mode = sys.argv[1]
original = Rpc.send_raw

def crashing(self, raw):
    if mode == "after":
        original(self, raw)
    os._exit(9)  # killed in the middle of sending

Rpc.send_raw = crashing
world = load_world(os.environ["RPC"], os.environ["MANIFEST"])
responder = Responder(ResponseConfig.model_validate_json(os.environ["CONFIG"]), Store(os.environ["DB"]), os.environ["RPC"], world.manifest)
responder.handle([attack_finding(world, block=int(os.environ["BLOCK"]))], [])
"""


@pytest.mark.parametrize("mode", ["before", "after"])
def test_restart_in_the_middle_of_sending_does_not_send_a_second(world, tmp_path: Path, mode: str) -> None:
    anvil, w = world
    address = w.accounts.responder.address
    start = nonce(anvil, address)
    db = f"sqlite:///{tmp_path / 'wd.db'}"
    cfg = config(tmp_path, w, ["pause"])
    env = {**os.environ, "RPC": anvil.url, "MANIFEST": str(w.manifest_path), "DB": db, "CONFIG": cfg.model_dump_json(),
           "BLOCK": str(anvil.block_number()), "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, mode], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    store = Store(db)
    (recorded,) = attempts(store)  # recorded before the broadcast
    assert nonce(anvil, address) == start + (1 if mode == "after" else 0)
    responder = Responder(cfg, store, anvil.url, w.manifest)
    responder.start()  # resume: watch or re-broadcast the recorded transaction
    assert responder.wait(30)
    (action,) = actions(store)
    assert action.status == "mined" and action.tx_hash == recorded.tx_hash
    assert [a.tx_hash for a in attempts(store)] == [recorded.tx_hash]
    assert nonce(anvil, address) == start + 1 and vault_paused(anvil, w)
    # a second restart finds nothing to do
    assert Responder(cfg, store, anvil.url, w.manifest).start() == []
    responder.close()


def test_underpriced_pause_is_replaced_and_mined_within_three_blocks(world, tmp_path: Path, store_url: str) -> None:
    anvil, w = world
    store = Store(store_url)
    responder = Responder(config(tmp_path, w, ["pause"], emergency_cap_gwei=5000.0), store, anvil.url, w.manifest)
    anvil.set_automine(False)
    sent_after = anvil.block_number()
    responder.handle([attack_finding(w, block=sent_after)], [])
    (first,) = attempts(store)
    # the base fee jumps far above what the pause offered
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(first.max_fee * 20)])
    for _ in range(3):
        seen = len(attempts(store))
        anvil.mine(1)
        if wait_until(lambda: actions(store)[0].status == "mined" or len(attempts(store)) > seen):
            if actions(store)[0].status == "mined":
                break
    assert wait_until(lambda: actions(store)[0].status == "mined", 5)
    action = actions(store)[0]
    assert action.block_number - sent_after <= 3
    tries = attempts(store)
    assert len(tries) >= 2 and len({a.nonce for a in tries}) == 1  # replaced: same nonce, new fees
    assert all(b.max_fee >= a.max_fee * 1.1 and b.priority_fee >= a.priority_fee * 1.1 for a, b in zip(tries, tries[1:]))
    assert action.tx_hash == tries[-1].tx_hash and vault_paused(anvil, w)
    responder.close()


def test_preemptive_pause_overtakes_the_pending_attack(world, tmp_path: Path) -> None:
    anvil, w = world
    attacker_contract = deploy_flash_loan_attacker(w)  # the attacker's own deployment, mined earlier
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"]), store, anvil.url, w.manifest)
    anvil.set_automine(False)
    base = int(anvil.rpc("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    attack_hash = send_flash_loan_spot_attack(w, attacker_contract, wait=False, maxPriorityFeePerGas=30 * GWEI,
                                              maxFeePerGas=2 * base + 30 * GWEI)
    assert anvil.rpc("eth_getTransactionReceipt", [attack_hash]) is None  # waiting in the mempool
    result = responder.handle([attack_finding(w, block=None, tx_hash=attack_hash, pending=True)], [])
    assert result.pauses and result.pauses[0].sent
    anvil.mine(1)
    assert responder.wait(30)
    attack = anvil.rpc("eth_getTransactionReceipt", [attack_hash])
    pause = anvil.rpc("eth_getTransactionReceipt", [actions(store)[0].tx_hash])
    assert pause["blockNumber"] == attack["blockNumber"]
    assert int(pause["transactionIndex"], 16) < int(attack["transactionIndex"], 16)
    assert pause["status"] == "0x1" and attack["status"] == "0x0"  # the attack reverts: paused first
    assert vault_paused(anvil, w)
    responder.close()


def test_already_paused_target_gets_no_transaction(world, tmp_path: Path) -> None:
    anvil, w = world
    guardian = w.contract("Guardian")
    w.send(guardian.functions.pause(w.addresses["CollateralVault"], b"\x00" * 32, "manual"), "responder")
    start = nonce(anvil, w.accounts.responder.address)
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"]), store, anvil.url, w.manifest)
    result = responder.handle([attack_finding(w, block=anvil.block_number())], [])
    assert responder.wait(10)
    assert result.pauses[0].status == "already_paused" and not result.pauses[0].sent
    assert nonce(anvil, w.accounts.responder.address) == start
    with store.session() as s:
        assert s.exec(select(Incident)).one().status == "contained"
    responder.close()


def test_dry_run_reads_and_simulates_but_sends_nothing(world, tmp_path: Path) -> None:
    anvil, w = world
    start = nonce(anvil, w.accounts.responder.address)
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"], dry_run=True), store, anvil.url, w.manifest)
    result = responder.handle([attack_finding(w, block=anvil.block_number())], [])
    assert responder.wait(10)
    assert result.pauses == [] and len(result.dry_run) == 1 and "simulation ok" in result.dry_run[0]
    assert actions(store) == [] and nonce(anvil, w.accounts.responder.address) == start
    assert not vault_paused(anvil, w)
    responder.close()


def test_after_governance_unpauses_a_new_attack_pauses_again(world, tmp_path: Path) -> None:
    anvil, w = world
    address = w.accounts.responder.address
    start = nonce(anvil, address)
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"]), store, anvil.url, w.manifest)
    responder.handle([attack_finding(w, block=anvil.block_number())], [])
    assert responder.wait(30) and vault_paused(anvil, w)
    w.governance_call("CollateralVault", "unpause", b"\x00" * 32)  # the Safe lifts the pause
    assert not vault_paused(anvil, w)
    responder.handle([attack_finding(w, block=anvil.block_number(), n=7)], [])
    assert responder.wait(30) and vault_paused(anvil, w)
    (action,) = actions(store)
    assert action.status == "mined" and action.generation == 1
    assert nonce(anvil, address) == start + 2
    responder.close()


class LaggingNode(Rpc):
    """A load-balanced endpoint whose first nonce answer comes from a replica one transaction behind."""

    lag = 1

    def nonce(self, address: str, tag: str = "pending") -> int:
        value = super().nonce(address, tag)
        if self.lag:
            self.lag -= 1
            return value - 1
        return value


def test_nonce_error_resyncs_and_still_sends_one_pause(world, tmp_path: Path) -> None:
    anvil, w = world
    responder_account = w.accounts.responder
    # the key was used before (another tool): its nonce is 1 ahead of what the lagging replica says
    tx = {"to": responder_account.address, "value": 0, "gas": 21000, "nonce": nonce(anvil, responder_account.address),
          "chainId": anvil.chain_id, "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI}
    sent = anvil.rpc("eth_sendRawTransaction", ["0x" + responder_account.signer.sign_transaction(tx).raw_transaction.hex()])
    assert wait_until(lambda: anvil.rpc("eth_getTransactionReceipt", [sent]) is not None)
    start = nonce(anvil, responder_account.address)
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"]), store, LaggingNode(anvil.url), w.manifest)
    result = responder.handle([attack_finding(w, block=anvil.block_number())], [])
    assert responder.wait(30)
    tries = attempts(store)
    assert [a.status for a in tries] == ["error", "mined"] and "nonce" in tries[0].error.lower()
    assert tries[1].nonce == start and result.pauses[0].sent
    assert nonce(anvil, responder_account.address) == start + 1 and vault_paused(anvil, w)
    responder.close()


def test_repricing_stops_at_the_emergency_cap(world, tmp_path: Path) -> None:
    anvil, w = world
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    cap = 5 * GWEI
    responder = Responder(config(tmp_path, w, ["pause"], emergency_cap_gwei=5.0), store, anvil.url, w.manifest)
    anvil.set_automine(False)
    responder.handle([attack_finding(w, block=anvil.block_number())], [])
    for _ in range(3):  # a fee spike far above the cap: the pause cannot get in, and never pays more than the cap
        anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(40 * GWEI)])
        seen = len(attempts(store))
        anvil.mine(1)
        wait_until(lambda: len(attempts(store)) > seen, 5)
    assert actions(store)[0].status == "sent"
    assert all(a.max_fee <= cap and a.priority_fee <= a.max_fee for a in attempts(store))
    assert any(a.max_fee == cap for a in attempts(store))
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(GWEI)])  # the spike ends
    mine_until_paused(anvil, store, blocks=3)
    assert actions(store)[0].status == "mined" and vault_paused(anvil, w)
    responder.close()


def test_a_pending_pause_is_repriced_above_an_attack_seen_later(world, tmp_path: Path) -> None:
    anvil, w = world
    attacker_contract = deploy_flash_loan_attacker(w)
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"]), store, anvil.url, w.manifest)
    anvil.set_automine(False)
    responder.handle([attack_finding(w, block=anvil.block_number())], [])  # a mined finding: pause sent, still pending
    base = int(anvil.rpc("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    attack_hash = send_flash_loan_spot_attack(w, attacker_contract, wait=False, maxPriorityFeePerGas=50 * GWEI,
                                              maxFeePerGas=2 * base + 50 * GWEI)
    responder.handle([attack_finding(w, block=None, tx_hash=attack_hash, pending=True, n=1)], [])
    tries = attempts(store)
    assert len(tries) == 2 and tries[1].nonce == tries[0].nonce and tries[1].priority_fee > 50 * GWEI
    anvil.mine(1)
    assert responder.wait(30)
    attack = anvil.rpc("eth_getTransactionReceipt", [attack_hash])
    assert attack["status"] == "0x0" and vault_paused(anvil, w)
    assert nonce(anvil, w.accounts.responder.address) == tries[0].nonce + 1
    responder.close()


def test_a_stuck_pause_left_alone_is_taken_up_by_the_next_trigger(world, tmp_path: Path) -> None:
    anvil, w = world
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"], give_up_blocks=1, emergency_cap_gwei=5.0), store, anvil.url,
                          w.manifest)
    anvil.set_automine(False)
    responder.handle([attack_finding(w, block=anvil.block_number())], [])
    # a fee spike above the emergency cap outlasts the watcher's patience: it gives up, the action stays open.
    # Above the cap, no re-priced pause can get in during the spike, however the watcher's polls and the
    # blocks interleave.
    for _ in range(3):
        anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(40 * GWEI)])
        anvil.mine(1)
    assert responder.executor.wait(10)
    assert actions(store)[0].status == "sent"
    with store.session() as s:  # and nothing happened for a while
        for attempt in s.exec(select(ActionAttempt)).all():
            attempt.at = attempt.at - timedelta(minutes=5)
            s.add(attempt)
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(GWEI)])
    anvil.mine(1)
    responder.handle([attack_finding(w, block=anvil.block_number(), n=2)], [])  # the next trigger
    mine_until_paused(anvil, store, blocks=3)
    assert actions(store)[0].status == "mined" and vault_paused(anvil, w)
    assert len({a.nonce for a in attempts(store)}) == 1
    responder.close()


class BlindNode(Rpc):
    """An endpoint whose state reads time out (overloaded node) while the rest works: the target's state is unknown."""

    def eth_call(self, to: str, data: str, sender: str | None = None, block: str = "latest") -> str:
        if data.startswith(selector("isPaused(address,bytes32)")):
            raise RpcError("eth_call: upstream timeout")
        return super().eth_call(to, data, sender, block)


def test_an_unknown_target_state_never_sends_a_second_pause(world, tmp_path: Path) -> None:
    anvil, w = world
    address = w.accounts.responder.address
    start = nonce(anvil, address)
    db = f"sqlite:///{tmp_path / 'wd.db'}"
    first = Responder(config(tmp_path, w, ["pause"]), Store(db), anvil.url, w.manifest)
    first.handle([attack_finding(w, block=anvil.block_number())], [])
    assert first.wait(30) and vault_paused(anvil, w)
    first.close()
    blind = Responder(config(tmp_path, w, ["pause"]), Store(db), BlindNode(anvil.url), w.manifest)
    blind.handle([attack_finding(w, block=anvil.block_number(), n=3)], [])
    assert blind.wait(10)
    (action,) = actions(Store(db))
    assert action.status == "mined" and action.generation == 0
    assert nonce(anvil, address) == start + 1
    blind.close()


def test_a_first_pause_still_goes_out_when_the_state_read_fails(world, tmp_path: Path) -> None:
    anvil, w = world
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"]), store, BlindNode(anvil.url), w.manifest)
    result = responder.handle([attack_finding(w, block=anvil.block_number())], [])
    assert responder.wait(30)
    assert result.pauses[0].sent and actions(store)[0].status == "mined" and vault_paused(anvil, w)
    responder.close()
