"""`watchdog proposals list|show|sign|execute`: Safe pause proposals for governance signers.

A signer reads the evidence (`show`), checks it against the signing checklist, and signs with their own
keystore (`sign`); once the threshold is met anyone executes it (`execute`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from watchdog.cli.app import app
from watchdog.cli.incidents import CONFIG_OPTION, STORE_OPTION, open_store
from watchdog.config import load_settings
from watchdog.errors import WatchdogError
from watchdog.keys import KeySource, Signer, load_signer
from watchdog.config.response import ExecutorSettings
from watchdog.respond.executor import Executor
from watchdog.respond.report import iso
from watchdog.respond.rpc import Rpc
from watchdog.respond.safe import SafeProposals, get_proposal, signatures
from watchdog.respond.service import SafeService
from watchdog.store import Store, proposals
from watchdog.store.responder import ActionStatus, Proposal, ProposalStatus

proposals_app = typer.Typer(help="Safe proposals: review the evidence, sign with your keystore, execute.", no_args_is_help=True)
app.add_typer(proposals_app, name="proposals")

RPC_OPTION = typer.Option(None, "--rpc", envvar="WATCHDOG_RPC",
                          help="JSON-RPC URL of the Safe's network (env WATCHDOG_RPC; default: the config's network, else http://127.0.0.1:8545).")
KEYSTORE_OPTION = typer.Option(None, "--keystore", help="Your encrypted keystore (eth-account JSON).")
PASSWORD_ENV_OPTION = typer.Option(None, "--password-env", help="Environment variable holding the keystore password.")
PASSWORD_FILE_OPTION = typer.Option(None, "--password-file", help="File holding the keystore password.")
KEY_ENV_OPTION = typer.Option(None, "--key-env", help="Environment variable holding a private key (instead of a keystore).")


def _signer(keystore: Path | None, password_env: str | None, password_file: Path | None, key_env: str | None) -> Signer:
    if keystore is None and key_env is None:
        raise WatchdogError("give --keystore (with --password-env or --password-file) or --key-env")
    return load_signer(KeySource(keystore, password_env, password_file, key_env))


def _rpc_url(rpc: str | None, config: Path | None, network: str) -> str:
    if rpc:
        return rpc
    if config is not None:
        networks = load_settings(config).networks
        if network in networks:
            return networks[network].rpc_urls[0]
    return "http://127.0.0.1:8545"


def _proposals(store: Store, proposal: Proposal, rpc: str, service_url: str | None = None) -> SafeProposals:
    client = Rpc(rpc)
    chain_id = client.chain_id()
    if chain_id != proposal.chain_id:
        raise WatchdogError(f"{rpc} is chain {chain_id} but proposal {proposal.id} is for chain {proposal.chain_id}: use the Safe's network")
    return SafeProposals(store, client, proposal.network, proposal.chain_id, proposal.safe,
                         SafeService(service_url) if service_url else None)


@proposals_app.command("list")
def list_proposals(store: str = STORE_OPTION, config: Path = CONFIG_OPTION,
                   as_json: bool = typer.Option(False, "--json", help="JSON instead of a table.")) -> None:
    """Proposals, newest first, with their signature count."""
    db = open_store(store, config, read_only=True)
    with db.session() as s:
        rows = proposals.proposals(s)
    data = [{"id": p.id, "status": p.status, "safe": p.safe, "nonce": p.nonce, "contract": p.contract,
             "signatures": len(signatures(db, p.id)), "threshold": p.threshold, "safe_tx_hash": p.safe_tx_hash,
             "incident": p.incident_id, "created_at": iso(p.created_at)} for p in rows]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table("id", "status", "contract", "safe", "nonce", "signed", "safeTxHash", "incident")
    for d in data:
        table.add_row(str(d["id"]), d["status"], d["contract"], d["safe"], str(d["nonce"]),
                      f"{d['signatures']}/{d['threshold']}", d["safe_tx_hash"], str(d["incident"]))
    Console(width=200).print(table)


@proposals_app.command("show")
def show(proposal_id: int, store: str = STORE_OPTION, config: Path = CONFIG_OPTION,
         as_json: bool = typer.Option(False, "--json", help="Everything as JSON.")) -> None:
    """The proposal and its evidence: what the SafeTx does, why, and what to check before signing."""
    db = open_store(store, config, read_only=True)
    p = get_proposal(db, proposal_id)
    sigs = signatures(db, proposal_id)
    if as_json:
        typer.echo(json.dumps({**p.model_dump(mode="json"), "signatures": [{"owner": x.owner, "signature": x.signature} for x in sigs]}, indent=2))
        return
    out = Console(width=200, highlight=False, soft_wrap=True)
    call = p.evidence.get("call", {})
    out.print(f"proposal #{p.id} ({p.status}): {p.description}")
    out.print(f"Safe {p.safe} on chain id {p.chain_id} ({p.network}), nonce {p.nonce}, threshold {p.threshold} of {len(p.owners)}")
    out.print(f"safeTxHash {p.safe_tx_hash}")
    out.print(f"call: {call.get('function')} on {p.to} ({p.contract}) args {json.dumps(call.get('args', {}))}")
    out.print(f"  to {p.to} value {p.value} operation {p.operation} safeTxGas {p.safe_tx_gas} baseGas {p.base_gas} "
              f"gasPrice {p.gas_price} gasToken {p.gas_token} refundReceiver {p.refund_receiver}")
    out.print(f"  data {p.data}")
    sim = p.evidence.get("simulation", {})
    out.print(f"simulation at block {sim.get('block')}: " + ("ok" if sim.get("ok") else f"reverts: {sim.get('revert')}"))
    out.print(f"funds at risk: {', '.join(map(str, p.evidence.get('funds_at_risk', []))) or 'unknown'}")
    out.print("findings:")
    for f in p.evidence.get("findings", []):
        out.print(f"  {f['severity']:8} {f['rule_id']}: {f['title']} (tx {f['tx_hash']}, block {f['block']})")
    out.print(f"signatures {len(sigs)}/{p.threshold}:")
    for x in sigs:
        out.print(f"  {x.owner}")
    out.print("before signing, check:")
    for item in p.evidence.get("checklist", []):
        out.print(f"  [ ] {item}")
    if p.exec_tx_hash:
        out.print(f"executed in {p.exec_tx_hash}")


@proposals_app.command("sign")
def sign(
    proposal_id: int,
    store: str = STORE_OPTION,
    config: Path = CONFIG_OPTION,
    rpc: str = RPC_OPTION,
    keystore: Path = KEYSTORE_OPTION,
    password_env: str = PASSWORD_ENV_OPTION,
    password_file: Path = PASSWORD_FILE_OPTION,
    key_env: str = KEY_ENV_OPTION,
    service_url: str = typer.Option(None, "--service-url", help="Also post to this Safe Transaction Service."),
) -> None:
    """Sign the proposal's safeTxHash with your own keystore (checked against the Safe on chain)."""
    db = open_store(store, config)
    proposal = get_proposal(db, proposal_id)
    signer = _signer(keystore, password_env, password_file, key_env)
    _, added, note = _proposals(db, proposal, _rpc_url(rpc, config, proposal.network), service_url).sign(proposal_id, signer)
    typer.echo(note if added else f"nothing changed: {note}")


@proposals_app.command("execute")
def execute(
    proposal_id: int,
    store: str = STORE_OPTION,
    config: Path = CONFIG_OPTION,
    rpc: str = RPC_OPTION,
    keystore: Path = KEYSTORE_OPTION,
    password_env: str = PASSWORD_ENV_OPTION,
    password_file: Path = PASSWORD_FILE_OPTION,
    key_env: str = KEY_ENV_OPTION,
) -> None:
    """Send execTransaction once the threshold is met (the sender pays gas; any account can send)."""
    db = open_store(store, config)
    proposal = get_proposal(db, proposal_id)
    if proposal.status == ProposalStatus.EXECUTED:
        typer.echo(f"nothing changed: proposal {proposal_id} was already executed in {proposal.exec_tx_hash}")
        return
    safe = _proposals(db, proposal, _rpc_url(rpc, config, proposal.network))
    signer = _signer(keystore, password_env, password_file, key_env)
    assert safe.rpc is not None
    executor = Executor(db, safe.rpc, signer, proposal.network, proposal.chain_id, ExecutorSettings())
    _, outcome, note = safe.execute(proposal_id, executor)
    typer.echo(note if outcome is not None and outcome.status == ActionStatus.MINED else f"nothing changed: {note}")
