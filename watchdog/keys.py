"""Signing keys: an encrypted keystore (eth-account keystore JSON, password from an env variable or a
file) or a key in an environment variable. A key never leaves this module's `Signer`: it is not
logged, stored, printed, put in an error message or chained into an exception.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.errors import ConfigError
from watchdog.validation import read_capped

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

MAX_KEY_FILE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where a key comes from: `keystore` + (`password_env` | `password_file`), or `key_env`."""

    keystore: Path | None = None
    password_env: str | None = None
    password_file: Path | None = None
    key_env: str | None = None

    def describe(self) -> str:
        return f"keystore {self.keystore}" if self.keystore else f"environment variable {self.key_env}"


class Signer:
    """Holds one account. `repr`/`str` show the address only."""

    __slots__ = ("_account",)

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @property
    def address(self) -> str:
        return self._account.address.lower()

    def sign_transaction(self, tx: dict) -> tuple[str, str]:
        """Sign a transaction dict; returns (raw tx hex, tx hash hex)."""
        signed = self._account.sign_transaction(tx)
        return "0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex()

    def sign_hash(self, digest: bytes) -> bytes:
        """Plain ECDSA over a 32-byte digest (no prefix): r‖s‖v with v 27/28, as Safe expects."""
        from eth_keys import keys as eth_keys

        pk = eth_keys.PrivateKey(self._account.key)
        sig = pk.sign_msg_hash(digest)
        return sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([sig.v + 27])

    def __repr__(self) -> str:
        return f"Signer({self.address})"

    __str__ = __repr__

    def __reduce__(self):  # never pickled (a pickle would carry the key)
        raise TypeError("a Signer cannot be pickled")


def load_signer(source: KeySource) -> Signer:
    """Open the key described by `source`; a one-line ConfigError (without the key) on any problem."""
    if source.keystore is not None:
        return Signer(_from_keystore(source))
    if source.key_env:
        value = os.environ.get(source.key_env)
        if not value:
            raise ConfigError(f"environment variable {source.key_env} is empty: export the signing key there or use a keystore")
        from eth_account import Account  # half a second to import: only when a key is opened

        try:
            account = Account.from_key(value.strip())
        except Exception:
            raise ConfigError(f"environment variable {source.key_env} does not hold a valid 32-byte hex private key") from None
        return Signer(account)
    raise ConfigError("no signing key configured: set `keystore` (with `password_env` or `password_file`) or `key_env`")


def _password(source: KeySource) -> str:
    if source.password_env:
        value = os.environ.get(source.password_env)
        if value is None:
            raise ConfigError(f"keystore password variable {source.password_env} is not set: export it before starting")
        return value
    if source.password_file:
        return _small_file(Path(source.password_file).expanduser(), "keystore password file").rstrip("\r\n")
    raise ConfigError(f"keystore {source.keystore}: set `password_env` or `password_file` for its password")


def _from_keystore(source: KeySource) -> LocalAccount:
    from eth_account import Account

    path = Path(source.keystore).expanduser()  # type: ignore[arg-type]
    try:
        data = json.loads(_small_file(path, "keystore"))
    except (ValueError, RecursionError):
        raise ConfigError(f"keystore {path} is not JSON: give an eth-account keystore file") from None
    _check_kdf(data, path)
    password = _password(source)
    try:
        key = Account.decrypt(data, password)
    except ValueError:
        raise ConfigError(f"keystore {path}: wrong password (check {source.password_env or source.password_file})") from None
    except Exception:
        raise ConfigError(f"keystore {path} is not a valid keystore (version 3 JSON expected)") from None
    return Account.from_key(key)


def _small_file(path: Path, what: str) -> str:
    """A keystore or a password file: a few hundred bytes, so at most MAX_KEY_FILE_BYTES are ever read."""
    data = read_capped(path, MAX_KEY_FILE_BYTES, lambda reason: f"{what} {path} cannot be read: {reason}",
                       f"{what} {path} is larger than {MAX_KEY_FILE_BYTES // 1024} KiB: is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text: is it the right file?") from None


def _check_kdf(data: object, path: Path) -> None:
    """Key derivation costs within what wallets use: a hostile keystore must not make decrypting it take hours
    or all the memory (scrypt's memory is 128 * n * r bytes)."""
    crypto = data.get("crypto", data.get("Crypto")) if isinstance(data, dict) else None
    params = crypto.get("kdfparams") if isinstance(crypto, dict) else None
    if not isinstance(params, dict):
        return  # not a keystore at all: decrypting says so
    limits = {"n": 2**20, "r": 16, "p": 16, "c": 10_000_000, "dklen": 64}
    for name, limit in limits.items():
        value = params.get(name, 0)
        if not isinstance(value, int) or value > limit:
            raise ConfigError(f"keystore {path}: its key derivation asks for {name} = {str(value)[:20]}, above {limit}: "
                              "re-encrypt the key with standard parameters")


def write_keystore(key: str, password: str, path: Path, *, iterations: int | None = None) -> str:
    """Encrypt `key` into an eth-account keystore file (mode 0600); returns the address."""
    from eth_account import Account

    account = Account.from_key(key)
    data = Account.encrypt(account.key, password, iterations=iterations)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    return account.address.lower()
