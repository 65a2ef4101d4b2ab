"""Shared fixtures: a real anvil per test session, reset between tests by snapshot/revert (with the demo world, and
another with the Harbor world); a real PostgreSQL server for the tests that run on both supported store databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchdog.devnet import Anvil
from watchdog.devnet.cache import world_on_anvil
from watchdog.devnet.bridge import BridgeWorld, deploy_bridge_world
from watchdog.devnet.bridge.world import HOME_CHAIN_ID, REMOTE_CHAIN_ID
from watchdog.devnet.world import World
from watchdog.devnet.world2 import HarborWorld, harbor_on_anvil

from fixtures.postgres import fresh_database, postgres_server


@pytest.fixture(scope="session")
def anvil_session() -> Iterator[Anvil]:
    with Anvil() as node:
        yield node


@pytest.fixture(scope="session")
def world(anvil_session: Anvil, tmp_path_factory: pytest.TempPathFactory) -> World:
    """The demo world, deployed once per session on the session anvil (or loaded from the state cache under
    anvil/state/). Use it together with `anvil` so that each test's changes are reverted."""
    return world_on_anvil(anvil_session, tmp_path_factory.mktemp("world"))


@pytest.fixture
def anvil(anvil_session: Anvil, world: World) -> Iterator[Anvil]:
    """The session's anvil holding the demo world, with every change made by the test reverted afterwards.

    It depends on `world` so that the snapshot is always taken after the world exists: a revert can
    then never remove the session's world, whatever order a test names its fixtures in."""
    snapshot = anvil_session.snapshot()
    yield anvil_session
    anvil_session.revert(snapshot)


@pytest.fixture(scope="session")
def harbor_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Anvil, HarborWorld]]:
    """An anvil of its own holding the Harbor world (loaded from the state cache), for the session."""
    with Anvil() as node:
        yield node, harbor_on_anvil(node, tmp_path_factory.mktemp("harbor"))


@pytest.fixture
def harbor_world(harbor_node: tuple[Anvil, HarborWorld]) -> Iterator[HarborWorld]:
    """The Harbor world, every change made by the test reverted afterwards."""
    node, deployed = harbor_node
    snapshot = node.snapshot()
    yield deployed
    node.revert(snapshot)


@pytest.fixture(scope="session")
def bridge_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Anvil, Anvil, BridgeWorld]]:
    """Two anvils (home and remote) holding the bridge world, for the session."""
    with Anvil(chain_id=HOME_CHAIN_ID) as home, Anvil(chain_id=REMOTE_CHAIN_ID) as remote:
        yield home, remote, deploy_bridge_world(home, remote, tmp_path_factory.mktemp("bridge"))


@pytest.fixture
def bridge_world(bridge_nodes: tuple[Anvil, Anvil, BridgeWorld]) -> Iterator[BridgeWorld]:
    """The bridge world, with every change a test makes on either chain reverted afterwards."""
    *nodes, deployed = bridge_nodes
    snapshots = [node.snapshot() for node in nodes]
    yield deployed
    for node, snapshot in zip(nodes, snapshots):
        node.revert(snapshot)


@pytest.fixture
def fresh_anvil() -> Iterator[Anvil]:
    """An anvil of the test's own (for reorgs, restarts and anything that cannot be reverted)."""
    with Anvil() as node:
        yield node


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    """A PostgreSQL server for the session (started only when a test asks for the PostgreSQL store)."""
    with postgres_server() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store URL of a test that must hold on both supported databases: SQLite, then a fresh
    PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wd.db'}"
    return fresh_database(request.getfixturevalue("postgres_admin"), f"wd_{uuid.uuid4().hex[:12]}")
