"""The demo world deploys, writes a valid manifest, and hands every admin right to the Safe."""

from __future__ import annotations

from watchdog.devnet.world import E18, ETH_PRICE, load_world
from watchdog.manifest import load_manifest

ROLES = {"market", "vault", "oracle_feed", "oracle_adapter", "twap_oracle", "amm_pair", "router", "token",
         "flash_lender", "guardian", "safe"}


def test_manifest_lists_every_role_with_code_and_abi(world, anvil):
    manifest = load_manifest(world.manifest_path)
    assert manifest.chain_id == 31337
    assert ROLES <= {entry.role for entry in manifest.contracts}
    for entry in manifest.contracts:
        assert world.w3.eth.get_code(entry.address), f"{entry.name} has no code"
        if entry.role != "other":
            assert manifest.abi_of(entry), f"{entry.name} has no ABI"
    assert manifest.safe.threshold == 2 and len(manifest.safe.owners) == 3


def test_pause_entries_point_at_the_guardian(world, anvil):
    guardian = world.addresses["Guardian"]
    market = world.manifest.by_name("PerpMarket").pause
    vault = world.manifest.by_name("CollateralVault").pause
    assert market.via == vault.via == "guardian"
    assert market.guardian == vault.guardian == guardian
    assert market.scope == "market" and market.scope_id == "0x" + world.contract("PerpMarket").functions.marketId().call().hex()
    assert vault.scope == "protocol" and int(vault.scope_id, 16) == 0


def test_safe_owns_protocol_and_governs_guardian(world, anvil):
    safe = world.addresses["Safe"]
    for name in ("PerpMarket", "CollateralVault", "OracleAdapter", "ETH-USD-Feed", "FlashLender"):
        assert world.contract(name).functions.owner().call() == safe, name
    guardian = world.contract("Guardian")
    admin = guardian.functions.DEFAULT_ADMIN_ROLE().call()
    responder = guardian.functions.RESPONDER_ROLE().call()
    assert guardian.functions.hasRole(admin, safe).call()
    assert not guardian.functions.hasRole(admin, world.accounts.deployer.address).call()
    assert guardian.functions.hasRole(responder, world.accounts.responder.address).call()
    assert not guardian.functions.hasRole(responder, world.accounts.attacker.address).call()
    owners = world.contract("Safe").functions.getOwners().call()
    assert sorted(owners) == sorted(a.address for a in world.accounts.safe_owners)
    assert world.contract("Safe").functions.getThreshold().call() == 2


def test_prices_agree_at_deployment(world, anvil):
    adapter = world.contract("OracleAdapter")
    assert adapter.functions.spotPrice().call() == ETH_PRICE * E18
    assert adapter.functions.twapPrice().call() == ETH_PRICE * E18
    assert adapter.functions.feedPrice().call() == ETH_PRICE * E18
    assert adapter.functions.source().call() == 0  # spot: the vulnerable configuration the drills start from


def test_load_world_binds_to_the_same_deployment(world, anvil):
    again = load_world(world.rpc_url, world.manifest_path)
    assert again.addresses == world.addresses
    pool = again.contract("CollateralVault").functions.poolAssets().call()
    assert pool == world.contract("CollateralVault").functions.poolAssets().call() > 0


def test_manifest_carries_rule_hints(world, anvil):
    manifest = world.manifest
    assert manifest.by_name("dUSD").model_extra["quote"] is True
    feed = manifest.by_name("ETH-USD-Feed").model_extra
    assert feed["asset"] == "WETH" and feed["heartbeat"] > 0 and feed["reference"] == ["WETH-dUSD"]
    assert manifest.by_name("TwapOracle").model_extra["pair"] == "WETH-dUSD"
    assert manifest.by_name("OracleAdapter").model_extra["reference"] == "ETH-USD-Feed"
    market = world.contract("PerpMarket")
    for name, signature in manifest.by_name("PerpMarket").model_extra["metrics"].items():
        assert getattr(market.functions, signature.split("(")[0])().call() == 0, name
