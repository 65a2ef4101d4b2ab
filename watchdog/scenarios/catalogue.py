"""Every test world's scenarios, by world name. A new world registers its Catalogue here."""

from __future__ import annotations

from watchdog.errors import WatchdogError
from watchdog.scenarios import demo
from watchdog.scenarios.base import Catalogue

CATALOGUES: dict[str, Catalogue] = {c.world: c for c in (demo.CATALOGUE,)}


def catalogue(world: str = "demo") -> Catalogue:
    try:
        return CATALOGUES[world]
    except KeyError:
        raise WatchdogError(f"no test world named {world!r}: choose one of {', '.join(CATALOGUES)}") from None
