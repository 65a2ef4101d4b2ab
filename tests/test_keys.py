"""Signing keys: encrypted keystore (password from env or file) or env key; a key never reaches a log line,
the store or an error message."""

from __future__ import annotations

import logging
import pickle
import stat
import traceback
from pathlib import Path

import pytest
from typer.testing import CliRunner

from test_respond_support import PASSWORD, PASSWORD_ENV, attack_finding, config, keystore
from watchdog.cli import app
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.errors import ConfigError
from watchdog.keys import KeySource, load_signer, write_keystore
from watchdog.respond import Responder
from watchdog.store import Store

KEY = "0x" + "4c" * 32  # a throwaway test key


def test_keystore_with_password_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k.json"
    address = write_keystore(KEY, "s3cret", path, iterations=2**10)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and KEY[2:] not in path.read_text()
    monkeypatch.setenv("PW", "s3cret")
    assert load_signer(KeySource(keystore=path, password_env="PW")).address == address
    (tmp_path / "pw").write_text("s3cret\n")
    signer = load_signer(KeySource(keystore=path, password_file=tmp_path / "pw"))
    assert signer.address == address and repr(signer) == f"Signer({address})"
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESPONDER_KEY", KEY)
    assert load_signer(KeySource(key_env="RESPONDER_KEY")).address.startswith("0x")


@pytest.mark.parametrize("case", ["wrong password", "bad env key", "missing password", "not a keystore"])
def test_errors_name_the_problem_never_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    path = tmp_path / "k.json"
    write_keystore(KEY, "s3cret", path, iterations=2**10)
    if case == "wrong password":
        monkeypatch.setenv("PW", "nope")
        source = KeySource(keystore=path, password_env="PW")
    elif case == "bad env key":
        monkeypatch.setenv("RESPONDER_KEY", KEY[:-2] + "zz")
        source = KeySource(key_env="RESPONDER_KEY")
    elif case == "missing password":
        source = KeySource(keystore=path, password_env="UNSET_PASSWORD_VARIABLE")
    else:
        path.write_text('{"not": "a keystore"}')
        monkeypatch.setenv("PW", "s3cret")
        source = KeySource(keystore=path, password_env="PW")
    with pytest.raises(ConfigError) as info:
        load_signer(source)
    text = "".join(traceback.format_exception(info.value))
    assert "\n" not in str(info.value)
    assert KEY[2:] not in text and KEY[2:-2] not in text and "s3cret" not in text


def test_no_private_key_in_logs_store_or_errors(world: World, anvil: Anvil, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    caplog.set_level(logging.DEBUG)
    db_file = tmp_path / "wd.db"
    db = f"sqlite:///{db_file}"
    cfg = config(tmp_path, world, ["pause", "propose"])
    responder = Responder(cfg, Store(db), anvil.url, world.manifest)
    responder.handle([attack_finding(world, block=anvil.block_number())], [])
    assert responder.wait(30)
    responder.close()
    outputs = []
    runner = CliRunner()
    for owner in ("owner1", "owner2"):
        ks = keystore(tmp_path, owner, world.accounts[owner].key)
        result = runner.invoke(app, ["proposals", "sign", "1", "--store", db, "--rpc", anvil.url, "--keystore", str(ks),
                                     "--password-env", PASSWORD_ENV])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    result = runner.invoke(app, ["proposals", "execute", "1", "--store", db, "--rpc", anvil.url,
                                 "--keystore", str(keystore(tmp_path, "owner1", world.accounts.owner1.key)), "--password-env", PASSWORD_ENV])
    outputs.append(result.output)
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    result = runner.invoke(app, ["proposals", "sign", "1", "--store", db, "--rpc", anvil.url,
                                 "--keystore", str(keystore(tmp_path, "owner3", world.accounts.owner3.key)), "--password-env", PASSWORD_ENV])
    outputs.append(result.output)
    assert result.exit_code == 2 and "wrong password" in outputs[-1]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("wd.db*")).lower()
    logged = caplog.text.lower() + "".join(outputs).lower()
    for name in ("responder", "owner1", "owner2", "owner3"):
        secret = world.accounts[name].key.lower().removeprefix("0x")
        assert secret.encode() not in stored and bytes.fromhex(secret) not in stored, name
        assert secret not in logged, name
    assert "executed in 0x" in outputs[2]
