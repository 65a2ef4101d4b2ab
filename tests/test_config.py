"""Configuration: the example from `watchdog init`, one clear line per problem, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchdog.cli.app import app
from watchdog.config import load_settings, resolve_protocols, zero_config
from watchdog.errors import ConfigError

runner = CliRunner()
ADDRESS = "0x00000000000000000000000000000000000000aa"


def write_manifest(path: Path, chain_id: int = 1) -> Path:
    path.write_text(json.dumps({"chain_id": chain_id, "block": 12, "contracts": [
        {"name": "Vault", "address": ADDRESS.upper().replace("0X", "0x"), "role": "vault",
         "abi": [{"type": "event", "name": "Paused", "inputs": []}]}]}))
    return path


def test_init_writes_a_commented_example_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "watchdog.toml"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.count("#") > 20 and "[networks.mainnet]" in text and "[[playbooks]]" in text
    write_manifest(tmp_path / "manifest.json")
    settings = load_settings(target)
    assert settings.networks["mainnet"].rpc_urls == ["http://127.0.0.1:8545"]
    assert settings.store_url() == f"sqlite:///{tmp_path / 'watchdog.db'}"  # relative to the config file
    [protocol] = resolve_protocols(settings)
    assert protocol.network == "mainnet" and protocol.manifest.contracts[0].address == ADDRESS
    # A second init does not overwrite the user's file.
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 2 and "--force" in again.output


def test_a_malformed_config_gives_one_line_per_problem_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("""
[networks.main]
chain_id = "one"
rpc_urls = ["ftp://node"]
confirmations = -2
colour = "blue"

[protocols.p]
network = "main"

[rules.flash-loan]
enabled = "maybe"

[metrics]
port = 70000

[ui]
token_env = "the token"
""")
    result = runner.invoke(app, ["run", "--config", str(config), "--check"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    expected = ["networks.main.chain_id", "networks.main.rpc_urls", "networks.main.confirmations",
                "networks.main.colour", "protocols.p", "rules.flash-loan.enabled", "metrics.port", "ui.token_env"]
    assert len(lines) == len(expected)
    for line, key in zip(lines, expected):
        assert line.startswith("error: ") and f": {key}: " in line
        assert "Traceback" not in line
    assert "write a whole number" in lines[0] and "remove it or check its spelling" in lines[3]


def test_cross_checks_name_the_key_and_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "w.toml"
    config.write_text("""
[networks.a]
chain_id = 1
rpc_urls = ["http://127.0.0.1:1"]
[networks.b]
chain_id = 2
rpc_urls = ["http://127.0.0.1:2"]
[protocols.x]
network = "c"
manifest = "missing.json"
[protocols.y]
manifest = "missing.json"
[rules]
rule_dirs = ["nowhere"]
""")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    lines = str(err.value).splitlines()
    assert any("protocols.x.network: unknown network 'c': use one of a, b" in line for line in lines)
    assert any("protocols.x.manifest: file" in line and "does not exist" in line for line in lines)
    assert any("protocols.y.network: missing" in line for line in lines)
    assert any("rules.rule_dirs.0" in line for line in lines)


def test_bad_toml_and_a_wrong_chain_id_are_one_line_each(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[networks.main\nchain_id = 1\n")
    result = runner.invoke(app, ["run", "--config", str(broken), "--check"])
    assert result.exit_code == 2 and result.output.count("error:") == 1 and "not valid TOML" in result.output

    config = tmp_path / "w.toml"
    write_manifest(tmp_path / "manifest.json", chain_id=5)
    config.write_text('[networks.main]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n[protocols.p]\nmanifest = "manifest.json"\n')
    with pytest.raises(ConfigError, match="protocols.p.manifest: chain id 5 differs from networks.main.chain_id 1"):
        resolve_protocols(load_settings(config))


def test_rules_tables_carry_enabled_and_params(tmp_path: Path) -> None:
    config = tmp_path / "w.toml"
    config.write_text('[networks.main]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n'
                      '[rules]\nallowlist = ["0x00000000000000000000000000000000000000ab"]\n[rules.oracle-deviation]\nthreshold_bps = 500\n'
                      '[rules.flash-loan]\nenabled = false\n')
    settings = load_settings(config)
    assert settings.rules.settings() == {"oracle-deviation": {"enabled": True, "threshold_bps": 500},
                                         "flash-loan": {"enabled": False}}


def test_zero_config_watches_the_whole_manifest(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.json", chain_id=31337)
    settings = zero_config(manifest, ["http://127.0.0.1:8545"])
    assert settings.networks["default"].chain_id == 31337 and settings.networks["default"].start_block == 12
    [protocol] = resolve_protocols(settings)
    assert [c.name for c in protocol.manifest.contracts] == ["Vault"]
    result = runner.invoke(app, ["run", "--manifest", str(manifest)])
    assert result.exit_code == 2 and "needs both --manifest FILE and --rpc URL" in result.output
