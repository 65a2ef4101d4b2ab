"""The store on SQLite and on a real PostgreSQL server: the same rows either way, values beyond 32 bits kept
exactly, and a store that cannot be opened named in one line, without its password."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlmodel import select

from watchdog.devnet.anvil import free_port
from watchdog.errors import ConfigError
from watchdog.store import FindingRecord, Store
from watchdog.store.models import Checkpoint
from watchdog.store.responder import Action, ActionAttempt

WEI = 250 * 10**9 * 21  # a fee far beyond 32 bits
BLOCK = 5_000_000_000


def test_rows_round_trip_through_a_second_store(store_url: str) -> None:
    first = Store(store_url)
    with first.session() as s:
        s.add(Checkpoint(network="mainnet", block_number=BLOCK, block_hash="0xab"))
        s.add(FindingRecord(dedup_key="k1", rule_id="drain.vault", severity="critical", confidence=0.9, network="mainnet",
                            block_number=BLOCK, title="t", evidence={"amount": 2**200}, addresses=["0x01"]))
        action = Action(network="mainnet", kind="pause", target="0x02", scope="0x" + "00" * 32, contract="Vault",
                        to="0x02", data="0x", check={})
        s.add(action)
        s.flush()
        s.add(ActionAttempt(action_id=action.id, sender="0x03", nonce=7, max_fee=WEI, priority_fee=WEI // 2, gas=100_000,
                            tx_hash="0x04", raw_tx="0x05"))
    first.audit("test", "wrote", "rows")
    first.close()

    second = Store(store_url)  # tables exist already: opening again changes nothing
    with second.session() as s:
        assert s.get(Checkpoint, "mainnet").block_number == BLOCK
        (finding,) = s.exec(select(FindingRecord)).all()
        assert finding.block_number == BLOCK and finding.evidence == {"amount": 2**200}
        (attempt,) = s.exec(select(ActionAttempt)).all()
        assert (attempt.max_fee, attempt.priority_fee) == (WEI, WEI // 2)
    second.close()


def test_the_same_dedup_key_is_refused_twice(store_url: str) -> None:
    store = Store(store_url)
    with store.session() as s:
        s.add(FindingRecord(dedup_key="once", rule_id="r", severity="low", confidence=1.0, network="n", title="t"))
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        with store.session() as s:
            s.add(FindingRecord(dedup_key="once", rule_id="r", severity="low", confidence=1.0, network="n", title="t"))
    with store.session() as s:
        assert len(s.exec(select(FindingRecord)).all()) == 1
    store.close()


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = f"postgresql://watchdog:hunter2-secret@127.0.0.1:{free_port()}/watchdog"
    with pytest.raises(ConfigError) as caught:
        Store(url)
    message = str(caught.value)
    assert "hunter2-secret" not in message and "***" in message
    assert "cannot be opened" in message and "\n" not in message

    done = subprocess.run([sys.executable, "-m", "watchdog", "incidents", "list", "--store", url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "hunter2-secret" not in done.stderr + done.stdout
    assert "cannot be opened" in done.stderr + done.stdout


def test_an_unknown_database_kind_names_the_supported_ones() -> None:
    with pytest.raises(ConfigError, match="sqlite:///PATH or a postgresql:// URL"):
        Store("mysql://root:pw@127.0.0.1/db")
