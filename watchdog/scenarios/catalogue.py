"""Every test world's scenarios, by world name (worlds are also numbered: 1 is the demo world, 2 is Harbor, 3 the
two-network bridge world)."""

from __future__ import annotations

from watchdog.errors import WatchdogError
from watchdog.scenarios import bridge, demo, harbor
from watchdog.scenarios.base import Catalogue

CATALOGUES: dict[str, Catalogue] = {c.world: c for c in (demo.CATALOGUE, harbor.CATALOGUE, bridge.CATALOGUE)}
NUMBERS = {"1": "demo", "2": "harbor", "3": "bridge"}


def catalogue(world: str = "demo") -> Catalogue:
    try:
        return CATALOGUES[NUMBERS.get(world, world)]
    except KeyError:
        raise WatchdogError(f"no test world named {world!r}: choose one of {', '.join(CATALOGUES)} "
                            f"(or {', '.join(NUMBERS)})") from None
