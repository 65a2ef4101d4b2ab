"""Role guessing, shared by every manifest tool: which known interfaces a contract has, from its ABI (forge and
hardhat deployments) or from its code and the views it answers (probing an address), and the manifest role
they suggest. Only public interfaces are used (see interfaces.py), never names of particular deployments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchdog.manifests.interfaces import INTERFACES, Answers, Interface


@dataclass(slots=True)
class Evidence:
    """What is known of one contract: the selectors of its functions (0x-prefixed; from the ABI, or from the
    dispatcher of its code — the implementation's for a proxy) and, when it was probed, the views that answered."""

    selectors: set[str]
    answers: Answers | None = None  # None: nothing was called (an ABI alone)

    def has(self, interface: Interface) -> bool:
        """Every function of the interface is there; when probed, its views answered (their selectors may be
        missing from a dispatcher that reaches them through a fallback) and its further test holds."""
        if not all(s in self.selectors for s in interface.function_selectors):
            return False
        if self.answers is None:
            return all(s in self.selectors for s in interface.view_selectors)
        return all(v in self.answers for v in interface.views) and (interface.valid is None or interface.valid(self.answers))


@dataclass(slots=True)
class Guess:
    role: str
    interfaces: list[Interface] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [i.name for i in self.interfaces]

    def has(self, name: str) -> bool:
        return name in self.names


def guess_role(evidence: Evidence) -> Guess:
    """The role of the first recognised interface that suggests one (`other` when none does), with every
    interface recognised."""
    found = [i for i in INTERFACES if evidence.has(i)]
    role = next((i.role for i in found if i.role), "other")
    return Guess(role, found)
