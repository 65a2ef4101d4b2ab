"""The accounts of the Harbor world: named roles and dozens of ordinary users, all derived from anvil's public
development mnemonic (published test keys that guard nothing of value)."""

from __future__ import annotations

from functools import cache

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

from watchdog.devnet.accounts import DevAccount, NamedAccounts
from watchdog.devnet.anvil import DEV_MNEMONIC

# Derivation index of each role. `responder` is the project's responder key (index 4), so that a watchdog
# configured like the demo's can pause Harbor; the admins are one key per protocol team.
ROLES: dict[str, int] = {
    "deployer": 0,  # deploys everything and issues hUSD and HBR
    "responder": 4,  # guardian / pauser of every protocol
    "attacker": 5,
    "keeper": 6,  # pushes the feeds and records TWAP observations
    "credit_admin": 20,
    "options_admin": 21,
    "perps_admin": 22,
    "savings_admin": 23,
    "lp": 24,  # AMM liquidity
    "maker": 25,  # options market maker
    "perp_lp": 26,  # the perp exchange's counterparty pool
    "whale": 27,
    "liquidator": 28,
    "arbitrageur": 29,
    "newcomer": 30,  # a first-time saver
}
USERS = 40
FIRST_USER_INDEX = 100


@cache
def _key(index: int) -> str:
    return "0x" + key_from_seed(_seed(), f"m/44'/60'/0'/0/{index}").hex()


@cache
def _seed() -> bytes:
    return seed_from_mnemonic(DEV_MNEMONIC, "")


@cache
def _account(name: str, index: int) -> DevAccount:
    key = _key(index)
    return DevAccount(name, Account.from_key(key).address, key)


class AccountBook(NamedAccounts):
    """Named accounts (`book.attacker`, `book["whale"]`) and `book.users` (user00 … user39)."""

    def __init__(self) -> None:
        users = {f"user{i:02d}": FIRST_USER_INDEX + i for i in range(USERS)}
        super().__init__({name: _account(name, index) for name, index in {**ROLES, **users}.items()})

    @property
    def users(self) -> list[DevAccount]:
        return [self.by_name[f"user{i:02d}"] for i in range(USERS)]

    def all(self) -> list[DevAccount]:
        return list(self.by_name.values())

    def addresses(self) -> dict[str, str]:
        return {name: acct.address for name, acct in self.by_name.items()}

    def name_of(self, address: str) -> str | None:
        wanted = address.lower()
        return next((name for name, acct in self.by_name.items() if acct.address.lower() == wanted), None)
