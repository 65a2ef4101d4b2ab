"""The two-network bridge world on two real anvils: deployment and manifests, the relayer, benign traffic, and each
attack scenario doing what it claims."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from fixtures.bridge import nodes, world  # noqa: F401 - the bridge world's fixtures

from watchdog.devnet import Anvil
from watchdog.devnet.bridge import BridgeWorld, Relayer, deploy_bridge_world, load_bridge_world
from watchdog.devnet.bridge import scenarios
from watchdog.devnet.bridge.world import ALP_PRICE, E18, HOME_CHAIN_ID, REMOTE_CHAIN_ID
from watchdog.errors import ConfigError, RpcError
from watchdog.manifest import load_manifest


def _balance(network, token: str, who: str, world: BridgeWorld) -> int:
    return network.contract(token).functions.balanceOf(world.accounts[who].address).call()


def test_each_network_has_its_manifest(world: BridgeWorld):
    home, remote = world.home.manifest, world.remote.manifest
    assert (home.chain_id, remote.chain_id) == (HOME_CHAIN_ID, REMOTE_CHAIN_ID)
    assert {e.name: e.role for e in home.contracts} == {
        "ALP": "token", "ALP-USD-Feed": "oracle_feed", "BridgeEscrow": "vault"}
    assert {e.name: e.role for e in remote.contracts} == {
        "bALP": "token", "BridgeMinterV1": "other", "BridgeMinter": "other", "ALP-USD-Relayed": "oracle_feed",
        "dUSD": "token", "Guardian": "guardian", "BridgedCollateralMarket": "lending"}
    escrow, minter = home.by_name("BridgeEscrow"), remote.by_name("BridgeMinter")
    assert escrow.pause_paths[0].via == "self" and escrow.pause_paths[0].call == "pause()"
    assert escrow.model_extra["bridge"] == {"peer_chain_id": REMOTE_CHAIN_ID, "peer": minter.address, "token": "ALP"}
    assert minter.model_extra["bridge"]["peer"] == escrow.address
    market = remote.by_name("BridgedCollateralMarket")
    assert market.pause_paths[0].via == "guardian" and market.pause_paths[0].guardian == remote.by_name("Guardian").address
    assert remote.by_name("ALP-USD-Relayed").model_extra["source"] == {
        "chain_id": HOME_CHAIN_ID, "feed": home.by_name("ALP-USD-Feed").address}
    assert not {e.address for e in home.contracts} & {e.address for e in remote.contracts}
    # The peer manifest is found from each side, and every ABI path resolves.
    peer = load_manifest(world.home.manifest_path.parent / home.model_extra["peer"]["manifest"])
    assert peer.chain_id == REMOTE_CHAIN_ID
    for manifest in (home, remote):
        assert all(manifest.abi_of(entry) for entry in manifest.contracts)
    rebound = load_bridge_world(world.home.rpc_url, world.remote.rpc_url, world.home.manifest_path.parents[1])
    assert rebound.escrowed() == world.escrowed()


def test_a_deposit_is_locked_relayed_after_the_delay_and_minted(world: BridgeWorld):
    relayer = Relayer(world, delay_blocks=2)
    receipt, message = scenarios.bridge_out(world, "trader1", 1_500 * E18)
    assert world.escrowed() == 1_500 * E18
    assert _balance(world.home, "ALP", "trader1", world) == 98_500 * E18
    assert relayer.step() == [] and relayer.pending_ids() == [message.id_hex]  # not yet 2 blocks deep
    scenarios.mine(world.home, 2)
    [delivery] = relayer.step()
    assert delivery.message == message and delivery.lag_blocks == 2
    assert delivery.source_tx == receipt["transactionHash"].to_0x_hex()
    assert _balance(world.remote, "bALP", "trader1", world) == 1_500 * E18
    minter = world.remote.contract("BridgeMinter")
    receipt = world.remote.w3.eth.get_transaction_receipt(delivery.tx_hash)
    delivered = minter.events.MessageDelivered().process_receipt(receipt, errors=DISCARD)
    assert delivered[0]["args"]["id"] == message.id and delivered[0]["args"]["nonce"] == 1
    assert minter.functions.delivered(message.id).call()


def test_a_withdrawal_burns_on_the_remote_chain_and_releases_on_home(world: BridgeWorld):
    relayer = Relayer(world)
    scenarios.bridge_out(world, "trader2", 3_000 * E18)
    scenarios.relay_until_idle(world, relayer)
    _, message = scenarios.bridge_back(world, "trader2", 1_000 * E18)
    assert world.wrapped_supply() == 2_000 * E18 and world.escrowed() == 3_000 * E18
    scenarios.relay_until_idle(world, relayer)
    assert world.home.contract("BridgeEscrow").functions.delivered(message.id).call()
    assert world.escrowed() == world.wrapped_supply() == 2_000 * E18
    assert _balance(world.home, "ALP", "trader2", world) == 98_000 * E18


def test_benign_traffic_keeps_every_wrapped_token_backed(world: BridgeWorld):
    outcome = scenarios.benign_traffic(world, delay_blocks=3)
    assert not outcome.incident
    assert outcome.escrowed_after >= outcome.supply_after > 0 and outcome.unbacked == 0
    assert outcome.details["undelivered"] == [] and outcome.details["deliveries"] == 6
    assert min(outcome.details["lag_blocks"]) >= 3  # a slow relayer, but every message arrived
    source = world.home.contract("ALP-USD-Feed").functions.latestRoundData().call()
    relayed = world.remote.contract("ALP-USD-Relayed").functions.latestRoundData().call()
    assert relayed[1] == source[1] and relayed[3] == source[3]  # honest relay: same answer, same source time


def test_a_relayer_thread_delivers_on_its_own(world: BridgeWorld):
    with Relayer(world, poll_interval=0.05) as relayer:
        _, message = scenarios.bridge_out(world, "trader1", 10 * E18)
        deadline = time.monotonic() + 20
        while relayer.pending_ids() or not relayer.deliveries:
            assert time.monotonic() < deadline, f"not delivered: {relayer.errors}"
            time.sleep(0.05)
    assert relayer.deliveries[0].message == message
    assert world.wrapped_supply() == 10 * E18


def test_a_paused_minter_holds_the_message_until_governance_unpauses(world: BridgeWorld):
    relayer = Relayer(world)
    minter = world.remote.contract("BridgeMinter")
    world.remote.send(minter.functions.pause(), "responder")  # the guardian role can pause...
    with pytest.raises(ContractLogicError):
        minter.functions.unpause().call({"from": world.accounts.responder.address})  # ...but not unpause
    _, message = scenarios.bridge_out(world, "trader1", 10 * E18)
    relayer.step()
    assert relayer.pending_ids() == [message.id_hex] and relayer.errors
    world.remote.send(minter.functions.unpause(), "deployer")
    relayer.step()
    assert relayer.pending_ids() == [] and world.wrapped_supply() == 10 * E18


def test_forged_mint_raises_the_supply_above_the_escrow(world: BridgeWorld):
    scenarios.benign_traffic(world, delay_blocks=0)
    outcome = scenarios.forged_mint(world, amount=50_000 * E18)
    assert outcome.incident and outcome.supply_after == outcome.supply_before + 50_000 * E18
    assert outcome.escrowed_after == outcome.escrowed_before and outcome.unbacked == 50_000 * E18
    sent = world.home.contract("BridgeEscrow").events.MessageSent.get_logs(from_block=0)
    assert outcome.messages[0] not in {"0x" + log["args"]["id"].hex() for log in sent}  # no lock behind it


def test_replay_is_rejected_by_the_minter_and_accepted_by_the_legacy_minter(world: BridgeWorld):
    outcome = scenarios.replayed_message(world, amount=5_000 * E18)
    current, legacy = outcome.details["current_minter"], outcome.details["legacy_minter"]
    assert not current["accepted"] and current["error"] == "AlreadyDelivered"
    assert world.remote.w3.eth.get_transaction_receipt(current["tx"])["status"] == 0  # the attempt is on chain
    assert legacy["accepted"]
    assert _balance(world.remote, "bALP", "attacker", world) == 10_000 * E18
    assert outcome.escrowed_after == 5_000 * E18 and outcome.unbacked == 5_000 * E18


def test_compromised_relayer_mints_beyond_the_escrow_and_empties_it(world: BridgeWorld):
    scenarios.benign_traffic(world, delay_blocks=0)
    alp_before = _balance(world.home, "ALP", "attacker", world)
    outcome = scenarios.compromised_relayer(world, extra=100_000 * E18)
    locked = outcome.escrowed_before
    assert locked > 0 and outcome.details["forged_minted"] == locked + 100_000 * E18
    assert outcome.escrowed_after == 0 and world.home.contract("ALP").functions.balanceOf(
        world.home.addresses["BridgeEscrow"]).call() == 0
    assert _balance(world.home, "ALP", "attacker", world) == alp_before + locked
    assert outcome.unbacked == outcome.supply_after > outcome.supply_before
    assert outcome.details["borrowed"] > 0


def test_stuck_relayer_leaves_messages_undelivered_until_it_resumes(world: BridgeWorld):
    relayer = Relayer(world)
    outcome = scenarios.stuck_relayer(world, relayer, deposits=2, blocks=10)
    assert sorted(relayer.pending_ids()) == sorted(outcome.details["undelivered"]) and len(outcome.messages) == 2
    minter = world.remote.contract("BridgeMinter")
    assert not any(minter.functions.delivered(bytes.fromhex(m[2:])).call() for m in outcome.messages)
    assert outcome.supply_after == outcome.supply_before and outcome.escrowed_after == 4_000 * E18
    assert outcome.details["relayed_price"] == ALP_PRICE != outcome.details["source_price"]
    relayer.resume()
    scenarios.relay_until_idle(world, relayer)
    assert relayer.pending_ids() == [] and world.wrapped_supply() == world.escrowed()
    assert world.remote.contract("ALP-USD-Relayed").functions.latestAnswer().call() == outcome.details["source_price"]


def test_a_diverging_relayed_price_lets_the_attacker_borrow_beyond_the_honest_limit(world: BridgeWorld):
    outcome = scenarios.diverging_price(world, inflate_bps=5_000)
    source = world.home.contract("ALP-USD-Feed").functions.latestAnswer().call()
    relayed = world.remote.contract("ALP-USD-Relayed").functions.latestAnswer().call()
    assert outcome.details["source_price"] == source and relayed == source * 15_000 // 10_000
    assert outcome.details["divergence_bps"] == 5_000
    assert outcome.details["borrowed"] > outcome.details["honest_limit"]
    assert outcome.unbacked == 0  # the bridge itself stayed backed: the damage is in the market


def test_the_market_takes_bridged_collateral_at_the_relayed_price(world: BridgeWorld):
    relayer = Relayer(world)
    scenarios.bridge_out(world, "trader1", 1_000 * E18)
    scenarios.relay_until_idle(world, relayer)
    market = world.remote.contract("BridgedCollateralMarket")
    world.remote.send(market.functions.depositCollateral(1_000 * E18), "trader1")
    trader = world.accounts.trader1.address
    assert market.functions.price().call() == ALP_PRICE
    limit = market.functions.borrowLimit(trader, 7_000, ALP_PRICE).call()
    assert limit == 1_400 * E18  # 1,000 bALP at $2.00, 70% loan-to-value
    with pytest.raises(ContractLogicError):
        market.functions.borrow(limit + 1).call({"from": trader})
    world.remote.send(market.functions.borrow(limit), "trader1")
    assert _balance(world.remote, "dUSD", "trader1", world) == limit

    scenarios.push_source_price(world, ALP_PRICE * 80 // 100)  # ALP falls 20% on the home chain...
    assert not market.functions.isLiquidatable(trader).call()  # ...B does not know until it is relayed
    relayer.step()
    assert market.functions.isLiquidatable(trader).call()
    world.remote.send(market.functions.liquidate(trader), "lp")
    assert market.functions.debtOf(trader).call() == 0
    assert _balance(world.remote, "bALP", "lp", world) > 0


def test_two_anvils_with_one_chain_id_are_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="both anvils have chain id 31337"):
        deploy_bridge_world(Anvil(chain_id=31337), Anvil(chain_id=31337), tmp_path)


def test_a_node_that_is_not_running_is_named(tmp_path: Path):
    home, remote = Anvil(chain_id=31337), Anvil(chain_id=31338)  # never started
    with pytest.raises(RpcError, match=f"no JSON-RPC node answers at {home.url}"):
        deploy_bridge_world(home, remote, tmp_path)
