"""What addresses and selectors are called in a report: manifest names and ABIs, plus the common signatures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchdog.chain.abi import canonical_type, selector
from watchdog.errors import ConfigError
from watchdog.manifest import Manifest

COMMON = ("transfer(address,uint256)", "transferFrom(address,address,uint256)", "approve(address,uint256)",
          "balanceOf(address)", "deposit()", "withdraw(uint256)", "getReserves()", "sync()",
          "swap(uint256,uint256,address,bytes)", "flashLoanSimple(address,address,uint256,bytes,uint16)",
          "executeOperation(address,uint256,uint256,address,bytes)", "latestRoundData()", "decimals()",
          "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)")


@dataclass
class Names:
    """Address -> name (manifest contracts and accounts) and selector -> function signature."""

    addresses: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=lambda: {selector(s): s for s in COMMON})

    @classmethod
    def of(cls, manifest: Manifest | None) -> "Names":
        names = cls()
        if manifest is None:
            return names
        for entry in manifest.contracts:
            names.addresses[entry.address.lower()] = entry.name
            try:
                abi = manifest.abi_of(entry)
            except ConfigError:
                continue
            for item in abi:
                if item.get("type") == "function":
                    signature = f"{item['name']}({','.join(canonical_type(p) for p in item.get('inputs', []))})"
                    names.functions.setdefault(selector(signature), signature)
        accounts: dict[str, Any] = (manifest.model_extra or {}).get("accounts") or {}
        for role, address in accounts.items():
            if isinstance(address, str):
                names.addresses.setdefault(address.lower(), role)
        return names

    def name(self, address: str | None) -> str | None:
        return self.addresses.get((address or "").lower())

    def function(self, data: str | None) -> str | None:
        return self.functions.get((data or "")[:10].lower()) if data and len(data) >= 10 else None
