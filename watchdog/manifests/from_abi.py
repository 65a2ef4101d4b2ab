"""Drafts for contracts whose ABI is known (a forge broadcast, a hardhat-deploy folder): the role the ABI
suggests, a pause section where the ABI shows one, and proxies tied to their implementations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watchdog.manifests.pauses import suggest_pause
from watchdog.manifests.roles import Evidence, guess_role
from watchdog.manifests.selectors import abi_functions
from watchdog.manifests.writer import Draft


@dataclass(slots=True)
class Known:
    """One deployed contract and its ABI (for a proxy: the implementation's, as the proxy answers it)."""

    name: str
    address: str
    abi: list[dict[str, Any]]
    abi_file: str | None = None
    implementation: str | None = None  # set on a proxy


def drafts_from_abis(contracts: list[Known]) -> list[Draft]:
    """One draft per contract. An implementation behind a proxy of the same deployment is `other` (users call the
    proxy); a guardian among the contracts is named in the pause of the contracts it can pause."""
    implementations = {c.implementation.lower(): c.name for c in contracts if c.implementation}
    names = {c.address.lower(): c.name for c in contracts}
    guesses = [guess_role(Evidence(set(abi_functions(c.abi)))) for c in contracts]
    guardians = [c.address for c, g in zip(contracts, guesses) if g.role == "guardian"]
    drafts = []
    for known, guess in zip(contracts, guesses):
        behind = implementations.get(known.address.lower())
        if behind is not None:
            drafts.append(Draft(known.name, known.address, "other", known.abi, [f"implementation behind {behind}"],
                                abi_file=known.abi_file))
            continue
        reasons = [f"ABI: {', '.join(guess.names)}" if guess.names else "no known interface in its ABI"]
        if known.implementation:
            reasons.insert(0, f"proxy to {names.get(known.implementation.lower(), known.implementation)}")
        selectors = set(abi_functions(known.abi))
        pause, notes = suggest_pause(guess, selectors, guardians[0] if len(guardians) == 1 else None)
        extra = {"implementation": known.implementation} if known.implementation else {}
        drafts.append(Draft(known.name, known.address, guess.role, known.abi, reasons + notes, pause, extra, known.abi_file))
    return drafts
