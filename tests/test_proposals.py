"""The Safe path on anvil with the demo world's real 2-of-3 Safe v1.4.1: propose -> show -> two owners sign ->
execute -> protocol paused; a third signature or a second execute changes nothing. A local Safe Transaction
Service checks the documented v2 payload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import to_checksum_address
from fixtures.http import JsonHandler, serve
from sqlmodel import select
from test_respond_support import PASSWORD, PASSWORD_ENV, attack_finding, config, keystore, nonce, vault_paused
from typer.testing import CliRunner

from watchdog.cli import app
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.errors import WatchdogError
from watchdog.respond import Responder
from watchdog.respond.safe import recover_owner, safe_tx_hash
from watchdog.store import Store
from watchdog.store.responder import Incident, Proposal, ProposalSignature

runner = CliRunner()


@pytest.fixture
def chain(world: World, anvil: Anvil, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Anvil, World]]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    yield anvil, world


def propose(anvil: Anvil, world: World, tmp_path: Path, db: str | None = None) -> tuple[str, int]:
    db = db or f"sqlite:///{tmp_path / 'wd.db'}"
    responder = Responder(config(tmp_path, world, ["propose"]), Store(db), anvil.url, world.manifest)
    finding = attack_finding(world, block=anvil.block_number())
    first = responder.handle([finding], [])
    again = responder.handle([attack_finding(world, block=anvil.block_number(), n=1)], [])
    responder.close()
    assert len(first.proposals) == 1 and again.proposals == first.proposals  # one proposal per pause
    return db, first.proposals[0]


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=True)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code == 2 and result.output.startswith("error: "):  # the one line a user error is shown as
        raise WatchdogError(result.output.removeprefix("error: ").strip())
    assert result.exit_code == 0, result.output
    return result.output


def owner_args(tmp_path: Path, world: World, name: str) -> list[str]:
    return ["--keystore", str(keystore(tmp_path, name, world.accounts[name].key)), "--password-env", PASSWORD_ENV]


def test_two_of_three_sign_and_execute_pauses_the_protocol(chain, tmp_path: Path, store_url: str) -> None:
    anvil, w = chain
    db, pid = propose(anvil, w, tmp_path, store_url)
    shown = cli("proposals", "show", str(pid), "--store", db)
    with Store(db).session() as s:
        proposal = s.get(Proposal, pid)
    # the Safe takes the real pause path: the guardian's pause of the vault, as the responder would
    assert proposal.safe_tx_hash in shown and "pause(address,bytes32,string)" in shown
    assert proposal.to == w.addresses["Guardian"].lower()
    assert "simulation at block" in shown and ": ok" in shown and "0/2" in shown.replace(" ", "")
    assert w.addresses["CollateralVault"].lower() in shown.lower() and "drain.vault" in shown
    # the hash is the Safe's own
    safe = w.contract("Safe")
    onchain = safe.functions.getTransactionHash(w.addresses["Guardian"], 0, bytes.fromhex(proposal.data[2:]), 0, 0, 0, 0,
                                                "0x" + "00" * 20, "0x" + "00" * 20, proposal.nonce).call()
    assert "0x" + onchain.hex() == proposal.safe_tx_hash

    for owner in ("owner2", "owner1"):
        out = cli("proposals", "sign", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, owner))
        assert "signed by" in out
    assert not vault_paused(anvil, w)
    sender = w.accounts.owner3
    out = cli("proposals", "execute", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, "owner3"))
    assert "executed in 0x" in out
    assert vault_paused(anvil, w)
    after = nonce(anvil, sender.address)
    with Store(db).session() as s:
        assert s.get(Proposal, pid).status == "executed"
        assert s.exec(select(Incident)).one().status == "contained"

    # a third signature and a second execute change nothing
    out = cli("proposals", "sign", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, "owner3"))
    assert "nothing changed" in out
    out = cli("proposals", "execute", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, "owner3"))
    assert "nothing changed" in out and "already executed" in out
    assert nonce(anvil, sender.address) == after
    with Store(db).session() as s:
        assert len(s.exec(select(ProposalSignature)).all()) == 2
    assert int(safe.functions.nonce().call()) == proposal.nonce + 1


def test_execute_needs_the_threshold_and_signers_must_be_owners(chain, tmp_path: Path) -> None:
    anvil, w = chain
    db, pid = propose(anvil, w, tmp_path)
    with pytest.raises(WatchdogError, match="not an owner"):
        cli("proposals", "sign", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, "attacker"))
    cli("proposals", "sign", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, "owner1"))
    out = cli("proposals", "sign", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, "owner1"))
    assert "nothing changed" in out and "already signed" in out
    with pytest.raises(WatchdogError, match="1 of 2 signatures"):
        cli("proposals", "execute", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, "owner1"))
    assert not vault_paused(anvil, w)


class ServiceHandler(JsonHandler):
    """A Safe Transaction Service stand-in that validates what the documented endpoints require."""

    chain_id = 0
    owners: list[str] = []
    received: list[tuple[str, dict]] = []
    proposals: dict[str, dict] = {}

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, body))
        parts = self.path.strip("/").split("/")
        try:
            if parts[:3] == ["api", "v2", "safes"] and parts[4] == "multisig-transactions":
                self._propose(parts[3], body)
            elif parts[:3] == ["api", "v1", "multisig-transactions"] and parts[4] == "confirmations":
                self._confirm(parts[3], body)
            else:
                raise ValueError(f"unknown endpoint {self.path}")
        except (ValueError, KeyError, AssertionError) as exc:
            self._answer(422, {"error": str(exc)})
            return
        self._answer(201, {})

    def _propose(self, safe: str, body: dict) -> None:
        required = {"to", "value", "data", "operation", "gasToken", "safeTxGas", "baseGas", "gasPrice", "refundReceiver",
                    "nonce", "contractTransactionHash", "sender", "signature", "origin"}
        assert required <= set(body), f"missing {required - set(body)}"
        assert safe == to_checksum_address(safe), "the Safe address must be checksummed"
        assert body["to"] == to_checksum_address(body["to"]) and body["sender"] == to_checksum_address(body["sender"])
        digest = safe_tx_hash(self.chain_id, safe, body["to"], int(body["value"]), body["data"], body["operation"],
                              int(body["safeTxGas"]), int(body["baseGas"]), int(body["gasPrice"]), body["gasToken"],
                              body["refundReceiver"], int(body["nonce"]))
        assert digest == body["contractTransactionHash"], "contractTransactionHash does not match the fields"
        assert recover_owner(digest, body["signature"]) == body["sender"].lower(), "signature is not the sender's"
        assert body["sender"].lower() in self.owners, "sender is not an owner"
        self.proposals[digest] = body

    def _confirm(self, digest: str, body: dict) -> None:
        assert digest in self.proposals, "unknown safeTxHash"
        assert recover_owner(digest, body["signature"]) in self.owners, "confirmation not signed by an owner"

def test_signatures_are_posted_to_a_transaction_service(chain, tmp_path: Path) -> None:
    anvil, w = chain
    db, pid = propose(anvil, w, tmp_path)
    ServiceHandler.chain_id = anvil.chain_id
    ServiceHandler.owners = [o.address.lower() for o in w.accounts.safe_owners]
    ServiceHandler.received, ServiceHandler.proposals = [], {}
    with serve(ServiceHandler) as url:
        for owner in ("owner1", "owner2"):
            out = cli("proposals", "sign", str(pid), "--store", db, "--rpc", anvil.url, "--service-url", url,
                      *owner_args(tmp_path, w, owner))
            assert "transaction service:" not in out, out  # no refusal
    paths = [p for p, _ in ServiceHandler.received]
    safe = w.addresses["Safe"]
    with Store(db).session() as s:
        digest = s.get(Proposal, pid).safe_tx_hash
    assert paths == [f"/api/v2/safes/{safe}/multisig-transactions/", f"/api/v1/multisig-transactions/{digest}/confirmations/"]
    assert ServiceHandler.received[0][1]["origin"] == "watchdog"


def test_a_nonce_taken_by_another_safe_tx_makes_the_proposal_stale(chain, tmp_path: Path) -> None:
    anvil, w = chain
    db, pid = propose(anvil, w, tmp_path)
    for owner in ("owner1", "owner2"):
        cli("proposals", "sign", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, owner))
    w.set_oracle_source("twap")  # governance executes something else at that nonce
    out = cli("proposals", "execute", str(pid), "--store", db, "--rpc", anvil.url, *owner_args(tmp_path, w, "owner1"))
    assert "nothing changed" in out and "already used" in out and not vault_paused(anvil, w)
    with Store(db).session() as s:
        old = s.get(Proposal, pid)
    assert old.status == "stale"
    responder = Responder(config(tmp_path, w, ["propose"]), Store(db), anvil.url, w.manifest)
    (again,) = responder.handle([attack_finding(w, block=anvil.block_number(), n=5)], []).proposals
    responder.close()
    with Store(db).session() as s:
        assert again != pid and s.get(Proposal, again).nonce == old.nonce + 1


def test_dry_run_proposes_nothing(chain, tmp_path: Path) -> None:
    anvil, w = chain
    db = f"sqlite:///{tmp_path / 'wd.db'}"
    responder = Responder(config(tmp_path, w, ["propose"], dry_run=True), Store(db), anvil.url, w.manifest)
    result = responder.handle([attack_finding(w, block=anvil.block_number())], [])
    responder.close()
    assert result.proposals == [] and "would propose" in result.dry_run[0]
    with Store(db).session() as s:
        assert s.exec(select(Proposal)).all() == []
