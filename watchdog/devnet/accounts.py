"""Named development accounts of the demo world, derived from anvil's public dev mnemonic.

These keys are published test keys that every anvil instance funds; they guard nothing of value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from eth_account import Account
from eth_account.signers.local import LocalAccount

from watchdog.devnet.anvil import DEV_MNEMONIC

# Index of each role in the mnemonic's derivation path (anvil funds indices 0-9 by default).
ROLES: dict[str, int] = {
    "deployer": 0,
    "owner1": 1,
    "owner2": 2,
    "owner3": 3,
    "responder": 4,
    "attacker": 5,
    "keeper": 6,
    "trader1": 7,
    "trader2": 8,
    "lp": 9,
}


@dataclass(frozen=True)
class DevAccount:
    name: str
    address: str  # checksummed
    key: str = field(repr=False)  # 0x-prefixed private key (a public dev key)

    @property
    def signer(self) -> LocalAccount:
        return Account.from_key(self.key)


@cache
def _derive(index: int) -> tuple[str, str]:
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return acct.address, acct.key.to_0x_hex()


class NamedAccounts:
    """Accounts by name: `accounts.attacker`, `accounts["lp"]`."""

    def __init__(self, by_name: dict[str, DevAccount]) -> None:
        self.by_name = by_name

    def __getattr__(self, name: str) -> DevAccount:
        try:
            return self.__dict__["by_name"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> DevAccount:
        return self.by_name[name]


class Accounts(NamedAccounts):
    """deployer, safe owners (owner1..3), responder, attacker, keeper, traders (trader1, trader2) and lp."""

    def __init__(self) -> None:
        super().__init__({name: DevAccount(name, *_derive(index)) for name, index in ROLES.items()})

    @property
    def safe_owners(self) -> list[DevAccount]:
        return [self.owner1, self.owner2, self.owner3]

    @property
    def traders(self) -> list[DevAccount]:
        return [self.trader1, self.trader2]

    def all(self) -> list[DevAccount]:
        return list(self.by_name.values())

    def addresses(self) -> dict[str, str]:
        return {name: acct.address for name, acct in self.by_name.items()}
