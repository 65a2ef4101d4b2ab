"""The two-network world: a token bridge between a home chain (A) and a remote chain (B), and a lending market on B
that takes the bridged token as collateral.

Chain A: the native token ALP, its Chainlink-style feed (ALP / USD), and the BridgeEscrow that locks ALP.
Chain B: the wrapped bALP, the BridgeMinter that mints it (and the legacy V1 minter, still allowed to mint), the
relayed copy of A's feed, a dollar token, the BridgedCollateralMarket, and the Guardian that pauses the market.
The bridge relayer (`Relayer`) carries messages and feed rounds between them.

`deploy_bridge_world(home, remote, out_dir)` deploys onto two anvils (different chain ids) and writes one
manifest per network (out_dir/home/manifest.json, out_dir/remote/manifest.json, each with its abi/ folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception

from watchdog.devnet import artifacts
from watchdog.devnet.accounts import Accounts, DevAccount
from watchdog.devnet.anvil import DEV_MNEMONIC, Anvil
from watchdog.devnet.txs import connect, deploy, send
from watchdog.devnet.world import E18, PAUSE_DURATION, PROTOCOL_SCOPE, RATE_LIMIT, World, scope_id
from watchdog.errors import ConfigError, RpcError
from watchdog.manifest import load_manifest

HOME_CHAIN_ID = 31337
REMOTE_CHAIN_ID = 31338
ALP_PRICE = 2 * 10**8  # dollars per ALP at deployment, 8 decimals like Chainlink's USD feeds
FEED_HEARTBEAT = 3600  # seconds between source feed updates
USER_ALP = 100_000 * E18  # each trader's ALP on the home chain
ATTACKER_ALP = 10_000 * E18
MARKET_USD = 1_000_000 * E18  # what borrowers can take out of the market
LIQUIDATOR_USD = 100_000 * E18
# Loan-to-value, liquidation threshold and liquidation bonus in bps; the oldest price the market accepts (s).
MARKET_PARAMS = (7_000, 8_000, 500, 2 * FEED_HEARTBEAT)
RELAYER_INDEX = 10  # the relayer's key in the dev mnemonic, after the ten named demo accounts
RELAYER_FUNDS = 1_000 * E18  # gas money on both chains
REMOTE_DEPLOYER_NONCE = 1_000  # B's contracts get addresses of their own (see _deploy)
MAX = 2**256 - 1

MARKET_SCOPES = {name: scope_id(name) for name in ("BORROWS", "LIQUIDATIONS")}


@cache
def _dev_account(name: str, index: int) -> DevAccount:
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return DevAccount(name, acct.address, acct.key.to_0x_hex())


class BridgeAccounts(Accounts):
    """The demo world's named dev accounts plus `relayer`, the bridge's relayer (its key signs deliveries)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name["relayer"] = _dev_account("relayer", RELAYER_INDEX)


@dataclass
class BridgeWorld:
    """Both networks of the bridge world, each a `World` bound to its manifest, and the shared dev accounts."""

    home: World
    remote: World
    accounts: BridgeAccounts

    @property
    def home_chain_id(self) -> int:
        return self.home.manifest.chain_id

    @property
    def remote_chain_id(self) -> int:
        return self.remote.manifest.chain_id

    def escrowed(self) -> int:
        """ALP locked in the escrow on A (its accounting: what the wrapped supply may never exceed)."""
        return self.home.contract("BridgeEscrow").functions.totalLocked().call()

    def wrapped_supply(self) -> int:
        """bALP in circulation on B."""
        return self.remote.contract("bALP").functions.totalSupply().call()


def deploy_bridge_world(home: Anvil, remote: Anvil, out_dir: Path) -> BridgeWorld:
    """Deploy the bridge world onto two anvils and write both manifests under out_dir."""
    if home.chain_id == remote.chain_id:
        raise ConfigError(f"both anvils have chain id {home.chain_id}: start the remote one with another "
                          f"(e.g. Anvil(chain_id={REMOTE_CHAIN_ID}))")
    accounts = BridgeAccounts()
    w3a, w3b = connect(home.url, accounts.all()), connect(remote.url, accounts.all())
    for node, w3 in ((home, w3a), (remote, w3b)):
        if not w3.is_connected():
            raise RpcError(f"no JSON-RPC node answers at {node.url}: start the anvil first (Anvil(...).start())")
    try:
        _deploy(w3a, w3b, Path(out_dir), accounts)
    except (Web3Exception, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RpcError(f"deploying the bridge world on {home.url} and {remote.url} failed ({reason})") from exc
    return load_bridge_world(home.url, remote.url, out_dir)


def load_bridge_world(home_url: str, remote_url: str, out_dir: Path) -> BridgeWorld:
    """Bind to a bridge world deployed earlier, from the two manifests under out_dir."""
    accounts = BridgeAccounts()

    def bind(rpc_url: str, network: str) -> World:
        path = (Path(out_dir) / network / "manifest.json").resolve()
        manifest = load_manifest(path)
        return World(rpc_url, path, manifest, {e.name: e.address for e in manifest.contracts}, accounts)

    return BridgeWorld(bind(home_url, "home"), bind(remote_url, "remote"), accounts)


class _Network:
    """Deployment bookkeeping for one chain: manifest entries and the ABIs they point at."""

    def __init__(self, w3: Web3, deployer: DevAccount) -> None:
        self.w3, self.deployer = w3, deployer
        self.entries: list[dict[str, Any]] = []
        self.abis: dict[str, list[dict[str, Any]]] = {}

    def deploy(self, name: str, role: str, contract_name: str, *args: Any, **extra: Any) -> Contract:
        contract = deploy(self.w3, self.deployer, artifacts.project(contract_name), *args)
        self.entries.append({"name": name, "address": contract.address, "role": role,
                             "abi": f"abi/{contract_name}.json", **extra})
        self.abis[contract_name] = contract.abi
        return contract

    def annotate(self, name: str, **extra: Any) -> None:
        """Add manifest hints to the entry `name` (e.g. the bridge peer, known only once both ends exist)."""
        next(entry for entry in self.entries if entry["name"] == name).update(extra)

    def send(self, call: Any, sender: DevAccount | None = None, **tx: Any) -> Any:
        return send(self.w3, call, sender or self.deployer, **tx)

    def write_manifest(self, path: Path, **top: Any) -> None:
        (path.parent / "abi").mkdir(parents=True, exist_ok=True)
        for name, abi in self.abis.items():
            (path.parent / "abi" / f"{name}.json").write_text(json.dumps(abi, indent=1))
        manifest = {"chain_id": self.w3.eth.chain_id, "block": self.w3.eth.block_number, "contracts": self.entries, **top}
        path.write_text(json.dumps(manifest, indent=2) + "\n")


def _deploy(w3a: Web3, w3b: Web3, out_dir: Path, accounts: BridgeAccounts) -> None:
    # The responder holds the endpoints' GUARDIAN_ROLE and the Guardian's RESPONDER_ROLE: it pauses, never unpauses.
    deployer, relayer, responder = accounts.deployer, accounts.relayer, accounts.responder
    a, b = _Network(w3a, deployer), _Network(w3b, deployer)
    chain_a, chain_b = w3a.eth.chain_id, w3b.eth.chain_id
    for w3 in (w3a, w3b):  # the relayer is not one of anvil's prefunded accounts
        w3.provider.make_request("anvil_setBalance", [relayer.address, hex(RELAYER_FUNDS)])
    # The same deployer would give B's contracts the addresses of A's: keep every address naming one contract.
    w3b.provider.make_request("anvil_setNonce", [deployer.address, hex(REMOTE_DEPLOYER_NONCE)])
    self_pause = {"via": "self", "function": "pause()"}

    # Chain A: the native token, its feed, the escrow.
    alp = a.deploy("ALP", "token", "DemoToken", "Alpha", "ALP", 18, deployer.address)
    feed = a.deploy("ALP-USD-Feed", "oracle_feed", "PriceFeed", 8, "ALP / USD", ALP_PRICE, accounts.keeper.address,
                    deployer.address, asset="ALP", heartbeat=FEED_HEARTBEAT)
    escrow = a.deploy("BridgeEscrow", "vault", "BridgeEscrow", alp.address, deployer.address, relayer.address,
                      responder.address, pause=self_pause)

    # Chain B: the wrapped token and its minters (V1 first: it was the route before the migration).
    wrapped = b.deploy("bALP", "token", "BridgedToken", "Bridged Alpha", "bALP", deployer.address,
                       bridged_from={"chain_id": chain_a, "token": alp.address})
    legacy = b.deploy("BridgeMinterV1", "other", "LegacyBridgeMinter", wrapped.address, deployer.address,
                      relayer.address, responder.address, pause=self_pause, deprecated=True)
    minter = b.deploy("BridgeMinter", "other", "BridgeMinter", wrapped.address, deployer.address, relayer.address,
                      responder.address, pause=self_pause)
    for contract in (legacy, minter):
        b.send(wrapped.functions.grantRole(wrapped.functions.MINTER_ROLE().call(), contract.address))
        b.send(contract.functions.setRemote(chain_a, escrow.address))
    a.send(escrow.functions.setRemote(chain_b, minter.address))
    a.annotate("BridgeEscrow", bridge={"peer_chain_id": chain_b, "peer": minter.address, "token": "ALP"})
    for name in ("BridgeMinterV1", "BridgeMinter"):
        b.annotate(name, bridge={"peer_chain_id": chain_a, "peer": escrow.address, "token": "bALP"})

    # Chain B: the relayed feed, the market and its guardian.
    relayed = b.deploy("ALP-USD-Relayed", "oracle_feed", "RelayedPriceFeed", 8, "ALP / USD", chain_a, feed.address,
                       deployer.address, relayer.address, asset="bALP", heartbeat=FEED_HEARTBEAT,
                       source={"chain_id": chain_a, "feed": feed.address})
    round_id, answer, _, updated_at, _ = feed.functions.latestRoundData().call()
    b.send(relayed.functions.relay(round_id, answer, updated_at), relayer)
    usd = b.deploy("dUSD", "token", "DemoToken", "Demo USD", "dUSD", 18, deployer.address, quote=True)
    guardian = b.deploy("Guardian", "guardian", "Guardian", deployer.address, [responder.address],
                        PAUSE_DURATION, *RATE_LIMIT)
    market = b.deploy("BridgedCollateralMarket", "lending", "BridgedCollateralMarket", wrapped.address, usd.address,
                      relayed.address, MARKET_PARAMS, deployer.address, guardian.address,
                      pause={"via": "guardian", "guardian": guardian.address, "scope": "protocol",
                             "scope_id": PROTOCOL_SCOPE, "function": "pause(address,bytes32,string)"},
                      collateral=["bALP"],
                      metrics={"total_collateral": "totalCollateral()(uint256)", "total_debt": "totalDebt()(uint256)"})

    # Funds: ALP for the traders and the attacker, the market's dollars, the liquidator's dollars.
    for holder, amount in ((accounts.trader1, USER_ALP), (accounts.trader2, USER_ALP), (accounts.attacker, ATTACKER_ALP)):
        a.send(alp.functions.mint(holder.address, amount))
        a.send(alp.functions.approve(escrow.address, MAX), holder)
        b.send(wrapped.functions.approve(market.address, MAX), holder)
        b.send(usd.functions.approve(market.address, MAX), holder)
    b.send(usd.functions.mint(market.address, MARKET_USD))
    b.send(usd.functions.mint(accounts.lp.address, LIQUIDATOR_USD))
    b.send(usd.functions.approve(market.address, MAX), accounts.lp)

    home_dir, remote_dir = out_dir / "home", out_dir / "remote"
    common = {"protocol": "bridge-demo", "accounts": accounts.addresses()}
    home_dir.mkdir(parents=True, exist_ok=True)
    remote_dir.mkdir(parents=True, exist_ok=True)
    a.write_manifest(home_dir / "manifest.json", network="home", **common,
                     peer={"chain_id": chain_b, "manifest": "../remote/manifest.json"})
    b.write_manifest(remote_dir / "manifest.json", network="remote", **common,
                     peer={"chain_id": chain_a, "manifest": "../home/manifest.json"},
                     scopes={"protocol": PROTOCOL_SCOPE, **MARKET_SCOPES})
