"""Validation up front: every bad value of a config or a manifest is one `file: key: problem: fix` line and exit
code 2 before anything runs, with no secret in it; what can only be checked against the node (a start block
past its head) fails at start, the same way."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from fixtures.chain.hostile import HostileRpc
from watchdog.cli import app

runner = CliRunner()
SECRET = "pa55w0rdAPIKEY"
VAULT = "0x00000000000000000000000000000000000000aa"
GUARDIAN = "0x00000000000000000000000000000000000000bb"
OWNERS = ["0x0000000000000000000000000000000000000001", "0x0000000000000000000000000000000000000002"]
# A real EIP-55 address, and the same one with one letter's case flipped (a typo the checksum exists to catch).
CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
MISTYPED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"

MANIFEST: dict[str, Any] = {"chain_id": 31337, "block": 1, "contracts": [
    {"name": "Vault", "address": VAULT, "role": "vault", "abi": [{"type": "event", "name": "Paused", "inputs": []}]},
    {"name": "Guardian", "address": GUARDIAN, "role": "guardian", "abi": []}],
    "safe": {"address": CHECKSUMMED, "owners": OWNERS, "threshold": 2}}


def check(tmp_path: Path, manifest: dict[str, Any] | None = None, config: str = "") -> tuple[int, list[str]]:
    """`watchdog run --config ... --check` on this manifest and these extra config lines: exit code, output lines."""
    (tmp_path / "manifest.json").write_text(json.dumps(manifest or MANIFEST))
    path = tmp_path / "watchdog.toml"
    path.write_text('[networks.main]\nchain_id = 31337\nrpc_urls = ["http://127.0.0.1:8545"]\n'
                    '[protocols.demo]\nmanifest = "manifest.json"\n' + config)
    result = runner.invoke(app, ["run", "--config", str(path), "--check"])
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    manifest = copy.deepcopy(MANIFEST)
    change(manifest)
    return manifest


def test_the_reference_config_is_accepted(tmp_path: Path) -> None:
    code, lines = check(tmp_path)
    assert code == 0 and lines == ["config ok: 1 network(s), 2 contract(s) watched"]
    assert not (tmp_path / "watchdog.db").exists()  # --check writes nothing


MANIFEST_PROBLEMS = {
    "bad-checksum": (lambda m: m["safe"].update(address=MISTYPED),
                     "safe.address: has a bad EIP-55 checksum (a mistyped character?)"),
    "duplicate-names": (lambda m: m["contracts"][1].update(name="Vault"),
                        "contracts: entry 1 has the name 'Vault' of entry 0: give each contract its own name"),
    "duplicate-addresses": (lambda m: m["contracts"][1].update(address=VAULT.upper().replace("0X", "0x")),
                            "contracts: entry 1 (Guardian) has the address of entry 0: list each contract once"),
    "threshold-above-owners": (lambda m: m["safe"].update(threshold=3),
                               "safe: threshold 3 is above the 2 owner(s): no pause proposal could ever be executed"),
    "negative-block": (lambda m: m.update(block=-5), "block: Input should be greater than or equal to 0 (got -5): raise it"),
    "no-contract": (lambda m: m.update(contracts=[]), "contracts: the manifest lists no contract: add the contracts to watch"),
    "abi-wrong-types": (lambda m: m["contracts"][0].update(abi=[{"type": "event", "name": 5, "inputs": "x"}]),
                        "contracts.0.abi: 0.name: Input should be a valid string (got 5): write a quoted string"),
    "abi-bad-event-type": (lambda m: m["contracts"][0].update(abi=[{"type": "event", "name": "E", "inputs": [{"type": "uint256 x"}]}]),
                           "contracts.0.abi: 0.inputs.0.type: is not an ABI type"),
    "bad-scope": (lambda m: m["contracts"][0].update(pause={"via": "guardian", "guardian": GUARDIAN, "scope_id": "0x12"}),
                  "contracts.0.pause.scope_id: is not a bytes32"),
}


@pytest.mark.parametrize("name", MANIFEST_PROBLEMS)
def test_a_bad_manifest_value_is_one_line_naming_the_file_the_key_and_the_fix(tmp_path: Path, name: str) -> None:
    change, expected = MANIFEST_PROBLEMS[name]
    code, lines = check(tmp_path, changed(change))
    assert code == 2, lines
    assert lines and all(line.startswith(f"error: {tmp_path / 'manifest.json'}: ") for line in lines), lines
    assert any(expected in line for line in lines), lines


CONFIG_PROBLEMS = {
    "enabled-yes": ('[rules.flash-loan]\nenabled = "yes"\n', "rules.flash-loan.enabled: Input should be a valid boolean"),
    "unknown-target": ('[[playbooks]]\nname = "p"\nactions = [{ type = "pause", targets = ["Vualt"] }]\n',
                       "playbooks.0.actions.0.targets: 'Vualt' names no watched contract: use \"affected\", \"all\" or a "
                       "contract name (Guardian, Vault)"),
    "unknown-notifier": ('[[playbooks]]\nname = "p"\nactions = [{ type = "notify", notifiers = ["ops"] }]\n',
                         "playbooks.0.actions.0.notifiers: 'ops' is not configured: add a [notifiers.ops] table"),
    "allowlist-typo": ('[rules]\nallowlist = ["0x1234"]\n', "rules.allowlist.0: is not a 0x-prefixed 20-byte hex address"),
    "store-kind": ('[store]\nurl = "mysql://root@db/x"\n', "store.url: is neither sqlite:///PATH nor a postgresql:// URL"),
}


@pytest.mark.parametrize("name", CONFIG_PROBLEMS)
def test_a_bad_config_value_is_one_line_naming_the_key_and_the_fix(tmp_path: Path, name: str) -> None:
    extra, expected = CONFIG_PROBLEMS[name]
    code, lines = check(tmp_path, config=extra)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {tmp_path / 'watchdog.toml'}: ") and expected in lines[0], lines


def test_the_same_contract_in_two_protocols_of_one_network_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps(changed(lambda m: m["contracts"].pop())))
    code, lines = check(tmp_path, config='[protocols.other]\nmanifest = "other.json"\n')
    assert code == 2 and len(lines) == 2, lines
    assert "protocols.other: contract name 'Vault' is also in protocols.demo on network main" in lines[0]
    assert f"protocols.other: address {VAULT} (Vault) is also in protocols.demo" in lines[1]


@pytest.mark.parametrize("scheme", ["ftp", "gopher", "file", "wss"])
def test_a_url_with_credentials_and_a_bad_scheme_is_never_printed(tmp_path: Path, scheme: str) -> None:
    url = f"{scheme}://alice:{SECRET}@node.example/v3/{SECRET}?key={SECRET}"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST))
    flags = runner.invoke(app, ["run", "--manifest", str(manifest), "--rpc", url, "--ws", url, "--check"])
    (tmp_path / "w.toml").write_text(f'[networks.main]\nchain_id = 31337\nrpc_urls = ["{url}"]\nws_url = "{url}"\n'
                                     f'[protocols.demo]\nmanifest = "manifest.json"\n[store]\nurl = "{url}"\n'
                                     f'[notifiers.ops]\ntype = "webhook"\nurl = 5\n')
    toml = runner.invoke(app, ["run", "--config", str(tmp_path / "w.toml"), "--check"])
    for result in (flags, toml):
        assert result.exit_code == 2 and SECRET not in result.output and "alice" not in result.output
        assert "rpc_urls: entry 0 has scheme" in result.output and "write http:// or https:// followed by the host and port" in result.output
    assert toml.output.count("error:") == 4 - (scheme == "wss")  # rpc_urls, ws_url (unless wss), store.url, notifier url


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("extra", "expected"), [
    ("start_block = 5000", "networks.main.start_block: block 5000 is past the node's head 100: lower it, or check that "
                           "the manifest and rpc_urls are for this chain"),
    ("confirmations = 1000", "networks.main.confirmations: 1000 is more than the 100 blocks the chain has: lower it "
                             "(0 detects on the head itself)"),
])
def test_a_start_block_or_a_depth_past_the_head_stops_the_run(tmp_path: Path, extra: str, expected: str) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    with HostileRpc("honest", head=100) as node:
        path = tmp_path / "w.toml"
        path.write_text(f'[networks.main]\nchain_id = 31337\nrpc_urls = ["{node.url}"]\n{extra}\n'
                        f'[protocols.demo]\nmanifest = "manifest.json"\n[store]\nurl = "sqlite:///wd.db"\n')
        result = runner.invoke(app, ["run", "--config", str(path), "--once"])
    assert result.exit_code == 2 and "processed up to block" not in result.output
    assert [line for line in result.output.splitlines() if line.startswith("error:")] == [f"error: {path}: {expected}"]
