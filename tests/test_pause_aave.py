"""The responder pauses real Aave V3 (the @aave/core-v3 bytecode) the way its emergency admin does: the pause
is a call with arguments on another contract of the protocol (`PoolConfigurator.setPoolPause(true)`, or
`setReservePause(asset, true)` for one reserve), checked by the paused bit of the reserve configuration. A
manifest names all of it; nothing in the responder knows Aave."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchdog.config.response import Playbook, PlaybookAction, ResponseConfig, SignerConfig
from watchdog.devnet import Anvil
from watchdog.devnet.aave import AaveMarket, aave_on_anvil
from watchdog.finding import Finding, Severity
from watchdog.manifest import load_manifest
from watchdog.respond import Responder
from watchdog.store import Store
from watchdog.store.responder import ActionStatus

KEY_ENV = "WATCHDOG_TEST_EMERGENCY_ADMIN_KEY"
PAUSED_BIT = 60  # ReserveConfiguration: bit 60 is "paused"
CONFIGURATION = "getConfiguration(address)(uint256)"


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    with Anvil() as anvil:
        yield anvil


@pytest.fixture
def market(node: Anvil, monkeypatch: pytest.MonkeyPatch) -> Iterator[AaveMarket]:
    deployed = aave_on_anvil(node)
    monkeypatch.setenv(KEY_ENV, deployed.emergency_admin.key)
    snapshot = node.snapshot()
    yield deployed
    node.revert(snapshot)


def manifest_with_pauses(market: AaveMarket, out: Path) -> Path:
    """The market's manifest plus what a team writes to say how Aave pauses: the whole pool on the Pool entry,
    one reserve on that reserve's token entry."""
    path = market.write_manifest(out)
    data = json.loads(path.read_text())
    for entry in data["contracts"]:
        if entry["name"] == "Pool":
            entry["pause"] = {"via": "self", "to": "PoolConfigurator", "call": "setPoolPause(bool)", "args": [True],
                              "check": {"to": "Pool", "call": CONFIGURATION, "args": ["tUSD"], "bit": PAUSED_BIT}}
        if entry["name"] == "tETH":
            entry["pause"] = {"via": "self", "to": "PoolConfigurator", "call": "setReservePause(address,bool)",
                              "args": ["tETH", True],
                              "check": {"to": "Pool", "call": CONFIGURATION, "args": ["tETH"], "bit": PAUSED_BIT}}
    path.write_text(json.dumps(data, indent=1))
    return path


def responder(market: AaveMarket, tmp_path: Path, target: str) -> Responder:
    config = ResponseConfig(playbooks=[Playbook(name="contain", actions=[PlaybookAction(type="pause", targets=[target])])],
                            signers={"responder": SignerConfig(key_env=KEY_ENV)})
    manifest = load_manifest(manifest_with_pauses(market, tmp_path / "aave"))
    return Responder(config, Store(f"sqlite:///{tmp_path / 'wd.db'}"), market.rpc_url, manifest)


def finding(market: AaveMarket, n: int = 0) -> Finding:
    return Finding(rule_id="drain.tx", title="Pool drained", severity=Severity.CRITICAL, confidence=0.9, network="devnet",
                   protocol="aave-v3", block_number=market.block, tx_hash=f"0x{n:064x}", key=str(n),
                   addresses=[market.addresses["Pool"].lower()])


def test_the_emergency_admin_path_pauses_every_reserve_once(market: AaveMarket, tmp_path: Path) -> None:
    assert not any(market.reserve_flags(a).paused for a in market.reserves.values())
    r = responder(market, tmp_path, "Pool")
    first = r.handle([finding(market)])
    assert r.wait(60)
    again = r.handle([finding(market, 1)])  # already paused: nothing more is sent
    assert r.wait(60)
    r.close()
    [pause] = first.pauses
    assert r.executor.outcome(pause.action_id).status == ActionStatus.MINED
    assert all(market.reserve_flags(a).paused for a in market.reserves.values())
    assert [o.sent for o in again.pauses] == [False]
    tx = market.w3.eth.get_transaction(r.executor.outcome(pause.action_id).tx_hash)
    assert tx["to"].lower() == market.configurator.lower()
    assert tx["from"].lower() == market.emergency_admin.address.lower()


def test_one_reserve_is_paused_alone(market: AaveMarket, tmp_path: Path) -> None:
    r = responder(market, tmp_path, "tETH")
    r.handle([finding(market)])
    assert r.wait(60)
    r.close()
    assert market.reserve_flags(market.reserves["tETH"]).paused
    assert not market.reserve_flags(market.reserves["tUSD"]).paused


def test_a_pause_the_signer_may_not_send_fails_without_a_transaction(market: AaveMarket, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, market.accounts.traders[0].key)  # not the emergency admin: the simulation reverts
    r = responder(market, tmp_path, "Pool")
    [pause] = r.handle([finding(market)]).pauses
    assert r.wait(60)
    r.close()
    outcome = r.executor.outcome(pause.action_id)
    assert outcome.status == ActionStatus.FAILED and outcome.tx_hash is None
    assert not market.reserve_flags().paused
