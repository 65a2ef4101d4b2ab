"""The bridge world's catalogue played at once on two anvils, with nothing watching: each step goes to the chain its
contract is on, the relayer is stepped between blocks, and each attack does what it claims when nothing pauses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from watchdog.devnet import Anvil
from watchdog.devnet.bridge import BridgeWorld
from watchdog.devnet.bridge.world import E18, HOME_CHAIN_ID, REMOTE_CHAIN_ID
from watchdog.scenarios import catalogue, play_attack, play_traffic
from watchdog.scenarios.bridge import BENIGN, COMPROMISED_RELAYER, FORGED_MINT, REPLAYED_MESSAGE, STUCK_RELAYER, TRAFFIC


@pytest.fixture(scope="module")
def nodes() -> Iterator[dict[str, Anvil]]:
    with Anvil(chain_id=HOME_CHAIN_ID) as home, Anvil(chain_id=REMOTE_CHAIN_ID) as remote:
        yield {"home": home, "remote": remote}


@pytest.fixture(scope="module")
def deployed(nodes: dict[str, Anvil], tmp_path_factory: pytest.TempPathFactory) -> BridgeWorld:
    return catalogue("bridge").load(nodes, tmp_path_factory.mktemp("bridge"), True)


@pytest.fixture
def world(nodes: dict[str, Anvil], deployed: BridgeWorld) -> Iterator[BridgeWorld]:
    snapshots = {name: node.snapshot() for name, node in nodes.items()}
    yield deployed
    for name, node in nodes.items():
        node.revert(snapshots[name])


def test_the_world_runs_on_two_networks_and_offers_its_drills(nodes, world: BridgeWorld):
    bridge = catalogue("3")
    assert bridge.networks == {"home": HOME_CHAIN_ID, "remote": REMOTE_CHAIN_ID}
    assert list(bridge.drills()) == ["forged-mint", "replayed-message", "compromised-relayer", "stuck-relayer",
                                     "benign-bridge"]
    assert {n: w.manifest.chain_id for n, w in bridge.per_network(world).items()} == bridge.networks


def test_traffic_goes_both_ways_and_keeps_the_wrapped_token_backed(world: BridgeWorld):
    done = play_traffic(TRAFFIC, world, rounds=2)
    assert done.count("deposit to remote") == 4 and done.count("withdrawal to home") == 2
    assert {s.network for s in done.steps if s.tx_hash} == {"home", "remote"}
    assert 0 < world.wrapped_supply() <= world.escrowed()
    slow = play_traffic(BENIGN, world)
    assert slow.count("deposit to remote") == 3 and world.wrapped_supply() <= world.escrowed()


def test_a_forged_mint_borrows_against_unbacked_collateral(world: BridgeWorld):
    result = play_attack(FORGED_MINT, world)
    assert all(s.succeeded for s in result.steps) and result.attacker_profit > 0 and result.pool_loss > 0
    assert world.wrapped_supply() > world.escrowed()
    assert [s.network for s in result.steps] == ["remote"] * 3


def test_a_replayed_message_is_refused_by_the_minter_and_minted_again_by_the_legacy_one(world: BridgeWorld):
    result = play_attack(REPLAYED_MESSAGE, world)
    replays = [s for s in result.steps if s.name.startswith("the delivered message again")]
    assert [s.succeeded for s in replays] == [False, True]
    assert world.wrapped_supply() > world.escrowed()


def test_a_compromised_relayer_empties_the_escrow(world: BridgeWorld):
    play_traffic(TRAFFIC, world)
    result = play_attack(COMPROMISED_RELAYER, world)
    assert all(s.succeeded for s in result.steps) and world.escrowed() == 0
    assert {s.network for s in result.steps} == {"home", "remote"}


def test_a_stuck_relayer_leaves_deposits_waiting(world: BridgeWorld):
    result = play_attack(STUCK_RELAYER, world, silent_blocks=2)
    assert all(s.succeeded for s in result.steps if s.tx_hash) and result.details["relayer"].halted
    assert world.escrowed() - world.wrapped_supply() == 5_000 * E18  # the two deposits after it stopped
