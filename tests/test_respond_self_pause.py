"""A contract paused by its own `pause()` (manifest `pause.via = "self"`), built on OpenZeppelin's Pausable:
the responder calls it directly, and a Safe proposal calls it as the owner."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import decode
from typer.testing import CliRunner

from test_respond_support import PASSWORD, PASSWORD_ENV, attack_finding, config, keystore, nonce
from watchdog import toolchain
from watchdog.cli import app
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.manifest import ContractEntry, PauseSpec
from watchdog.respond import Responder
from watchdog.chain.abi import selector
from watchdog.store import Store

SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract SelfPausable is Pausable, Ownable {
    address public pauser;
    constructor(address owner_, address pauser_) Ownable(owner_) { pauser = pauser_; }
    function pause() external {
        require(msg.sender == pauser || msg.sender == owner(), "not pauser");
        _pause();
    }
    function unpause() external onlyOwner { _unpause(); }
    function withdraw() external whenNotPaused {}
}
"""


def compile_self_pausable() -> tuple[list, str]:
    nm = toolchain.node_modules()
    request = {"language": "Solidity", "sources": {"SelfPausable.sol": {"content": SOURCE}},
               "settings": {"remappings": ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"],
                            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}}}
    done = subprocess.run([str(toolchain.solc()), "--standard-json", "--base-path", str(nm.parent)], input=json.dumps(request),
                          capture_output=True, text=True, check=True, env=toolchain.tool_env(), cwd=nm.parent)
    out = json.loads(done.stdout)
    assert not [e for e in out.get("errors", []) if e["severity"] == "error"], out["errors"]
    contract = out["contracts"]["SelfPausable.sol"]["SelfPausable"]
    return contract["abi"], contract["evm"]["bytecode"]["object"]


@pytest.fixture(scope="module")
def artifact() -> tuple[list, str]:
    return compile_self_pausable()


@pytest.fixture
def deployed(world: World, anvil: Anvil, artifact, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Anvil, World, str]]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    abi, bytecode = artifact
    factory = world.w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = factory.constructor(world.addresses["Safe"], world.accounts.responder.address).transact({"from": world.accounts.deployer.address})
    address = world.w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    entry = ContractEntry(name="SelfPausable", address=address, role="market", abi=abi, pause=PauseSpec(via="self", function="pause()"))
    manifest = world.manifest.model_copy(update={"contracts": [entry]})
    yield anvil, world.__class__(world.rpc_url, world.manifest_path, manifest, {**world.addresses, "SelfPausable": address}, world.accounts), address


def paused(anvil: Anvil, address: str) -> bool:
    return decode(["bool"], bytes.fromhex(anvil.rpc("eth_call", [{"to": address, "data": selector("paused()")}, "latest"])[2:]))[0]


def finding_on(w: World, address: str, block: int):
    f = attack_finding(w, block=block)
    f.addresses = [address.lower(), w.accounts.attacker.address.lower()]
    return f


def test_responder_calls_the_contracts_own_pause(deployed, tmp_path: Path) -> None:
    anvil, w, address = deployed
    start = nonce(anvil, w.accounts.responder.address)
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    responder = Responder(config(tmp_path, w, ["pause"]), store, anvil.url, w.manifest)
    result = responder.handle([finding_on(w, address, anvil.block_number())], [])
    assert responder.wait(30)
    assert result.pauses[0].sent and paused(anvil, address)
    responder.handle([finding_on(w, address, anvil.block_number())], [])  # already paused: nothing more
    assert responder.wait(30) and nonce(anvil, w.accounts.responder.address) == start + 1
    responder.close()


def test_safe_proposal_calls_the_contracts_own_pause(deployed, tmp_path: Path) -> None:
    anvil, w, address = deployed
    db = f"sqlite:///{tmp_path / 'wd.db'}"
    responder = Responder(config(tmp_path, w, ["propose"]), Store(db), anvil.url, w.manifest)
    (pid,) = responder.handle([finding_on(w, address, anvil.block_number())], []).proposals
    responder.close()
    runner = CliRunner()
    assert "pause()" in runner.invoke(app, ["proposals", "show", str(pid), "--store", db]).output
    for owner in ("owner1", "owner3", "owner2"):
        ks = keystore(tmp_path, owner, w.accounts[owner].key)
        out = runner.invoke(app, ["proposals", "sign" if owner != "owner2" else "execute", str(pid), "--store", db,
                                  "--rpc", anvil.url, "--keystore", str(ks), "--password-env", PASSWORD_ENV])
        assert out.exit_code == 0, out.output
    assert "executed in" in out.output and paused(anvil, address)
