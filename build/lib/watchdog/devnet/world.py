"""The demo world: a small cash-settled perpetuals protocol with its oracles, a real Uniswap V2 pair, a flash
lender, a guardian and a real 2-of-3 Safe, deployed onto any RPC from the named dev accounts.

`deploy_world(rpc_url, out_dir)` deploys everything, seeds liquidity and accounts, and writes the deployment
manifest (plus one ABI file per contract type under out_dir/abi/). `load_world(rpc_url, manifest_path)` binds to
a world deployed earlier (e.g. by `watchdog devnet up`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception

from watchdog.devnet import artifacts
from watchdog.devnet.accounts import Accounts, DevAccount
from watchdog.devnet.safe import deploy_safe, exec_safe_tx
from watchdog.devnet.txs import connect, deploy, send
from watchdog.errors import RpcError
from watchdog.manifest import Manifest, load_manifest

E18 = 10**18
MARKET_SYMBOL = "ETH-USD"
ETH_PRICE = 3_000  # dollars per WETH at deployment
PAIR_WETH = 1_000 * E18  # AMM liquidity: 1,000 WETH against 3,000,000 dUSD
ALT_PAIR_WETH = 300 * E18  # the second venue
LENDER_WETH = 5_000 * E18
LENDER_USD = 5_000_000 * E18
POOL_USD = 2_000_000 * E18  # the perp liquidity pool: what an attacker can drain
TRADER_USD = 100_000 * E18
TRADER_DEPOSIT = 50_000 * E18
MAX_OPEN_INTEREST = 5_000_000 * E18
TWAP_PERIOD = 300  # seconds
FEED_HEARTBEAT = 3600  # seconds between feed updates the keeper promises
PAUSE_DURATION = 24 * 3600
RATE_LIMIT = (3, 3600)  # pauses per responder per window (seconds)
ORACLE_SOURCES = {"spot": 0, "twap": 1, "feed": 2}


def scope_id(name: str) -> str:
    """bytes32 hex of a market or function-group scope (keccak of its name, as the contracts define them)."""
    return "0x" + keccak(text=name).hex()


PROTOCOL_SCOPE = "0x" + "00" * 32
SCOPES = {name: scope_id(name) for name in (MARKET_SYMBOL, "TRADING", "LIQUIDATIONS", "DEPOSITS", "WITHDRAWALS")}


@dataclass
class World:
    """A deployed demo world: its manifest, contract addresses by name, and the named dev accounts."""

    rpc_url: str
    manifest_path: Path
    manifest: Manifest
    addresses: dict[str, str]
    accounts: Accounts = field(default_factory=Accounts)
    helpers: dict[str, str] = field(default_factory=dict)  # contracts deployed later (bots), by name

    @cached_property
    def w3(self) -> Web3:
        return connect(self.rpc_url, self.accounts.all())

    def contract(self, name: str, w3: Web3 | None = None) -> Contract:
        """A web3 contract for the manifest entry `name` (e.g. "PerpMarket", "Guardian", "Safe")."""
        entry = self.manifest.by_name(name)
        return (w3 or self.w3).eth.contract(address=Web3.to_checksum_address(entry.address), abi=self.manifest.abi_of(entry))

    def send(self, call: Any, sender: DevAccount | str, **tx: Any) -> Any:
        """Send a contract call from a named dev account; raises RpcError when it reverts."""
        acct = self.accounts[sender] if isinstance(sender, str) else sender
        return send(self.w3, call, acct, **tx)

    def safe_exec(self, to: str, data: bytes | str, signers: Sequence[DevAccount] | None = None) -> Any:
        """Execute a call from the Safe, signed by `signers` (default: the first two owners, the threshold)."""
        payload = bytes.fromhex(data[2:]) if isinstance(data, str) else data
        return exec_safe_tx(self.w3, self.contract("Safe"), to, payload, signers or self.accounts.safe_owners[:2])

    def governance_call(self, name: str, function: str, *args: Any) -> Any:
        """Call `function(*args)` on contract `name` through the Safe (2 of 3 owners)."""
        target = self.contract(name)
        return self.safe_exec(target.address, target.encode_abi(function, list(args)))

    def set_oracle_source(self, source: str) -> Any:
        """Governance switches the oracle adapter to "spot", "twap" or "feed"."""
        return self.governance_call("OracleAdapter", "setSource", ORACLE_SOURCES[source])


def load_world(rpc_url: str, manifest_path: Path | str) -> World:
    """Bind to a world deployed earlier, from its manifest."""
    manifest = load_manifest(manifest_path)
    addresses = {entry.name: entry.address for entry in manifest.contracts}
    return World(rpc_url, Path(manifest_path).resolve(), manifest, addresses)


def deploy_world(rpc_url: str, out_dir: Path, *, manifest_name: str = "manifest.json") -> World:
    """Deploy the demo world onto `rpc_url`, seed it, and write out_dir/manifest.json (+ out_dir/abi/*.json)."""
    out_dir = Path(out_dir)
    accounts = Accounts()
    w3 = connect(rpc_url, accounts.all())
    if not w3.is_connected():
        raise RpcError(f"no JSON-RPC node answers at {rpc_url}: start one (e.g. `watchdog devnet up`) or fix the URL")
    try:
        return _deploy(w3, rpc_url, out_dir, manifest_name, accounts)
    except (Web3Exception, ValueError) as exc:  # e.g. unfunded dev accounts on a non-dev node
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RpcError(f"deploying the demo world on {rpc_url} failed ({reason}): use a node that funds anvil's dev accounts") from exc


def _deploy(w3: Web3, rpc_url: str, out_dir: Path, manifest_name: str, accounts: Accounts) -> World:
    deployer, keeper = accounts.deployer, accounts.keeper
    entries: list[dict[str, Any]] = []

    def add(name: str, contract: Contract, role: str, abi_name: str, **extra: Any) -> Contract:
        entries.append({"name": name, "address": contract.address, "role": role, "abi": f"abi/{abi_name}.json", **extra})
        abis[abi_name] = contract.abi
        return contract

    abis: dict[str, list[dict[str, Any]]] = {}
    project = artifacts.project

    # Governance: a real Safe v1.4.1, 2-of-3.
    safe, safe_support = deploy_safe(w3, deployer, [o.address for o in accounts.safe_owners], 2)
    add("Safe", safe, "safe", "Safe_V1_4_1")

    # Tokens and the real Uniswap V2 AMM.
    usd = add("dUSD", deploy(w3, deployer, project("DemoToken"), "Demo USD", "dUSD", 18, deployer.address), "token", "DemoToken",
              quote=True)
    weth = add("WETH", deploy(w3, deployer, artifacts.weth9()), "token", "WETH9")
    pair = _deploy_venue(w3, deployer, add, "", weth, usd, PAIR_WETH)
    # A second, smaller venue with the same real bytecode: honest arbitrage and a reference price.
    _deploy_venue(w3, deployer, add, "AltSwap", weth, usd, ALT_PAIR_WETH)

    # Oracles: a Chainlink-style feed pushed by the keeper, a TWAP over the pair, the switchable adapter.
    feed = add("ETH-USD-Feed", deploy(w3, deployer, project("PriceFeed"), 8, "ETH / USD", ETH_PRICE * 10**8, keeper.address, deployer.address), "oracle_feed", "PriceFeed",
               asset="WETH", heartbeat=FEED_HEARTBEAT, reference=["WETH-dUSD"])
    twap = add("TwapOracle", deploy(w3, deployer, project("UniswapV2TwapOracle"), pair.address, weth.address, TWAP_PERIOD), "twap_oracle", "UniswapV2TwapOracle",
               pair="WETH-dUSD")
    # The adapter sits behind an ERC-1967 (UUPS) proxy that governance can upgrade.
    adapter_impl = deploy(w3, deployer, project("OracleAdapter"))
    init = adapter_impl.encode_abi("initialize", [pair.address, weth.address, twap.address, feed.address, ORACLE_SOURCES["spot"], deployer.address])
    proxy = deploy(w3, deployer, project("AdapterProxy"), adapter_impl.address, init)
    adapter = add("OracleAdapter", w3.eth.contract(address=proxy.address, abi=adapter_impl.abi), "oracle_adapter", "OracleAdapter",
                  decimals=18, reference="ETH-USD-Feed", asset="WETH", implementation=adapter_impl.address)

    # The guardian (governed by the Safe; the responder and the Safe may pause) and the protocol.
    guardian = add("Guardian", deploy(w3, deployer, project("Guardian"), safe.address, [accounts.responder.address, safe.address], PAUSE_DURATION, *RATE_LIMIT), "guardian", "Guardian")
    pause_protocol = {"via": "guardian", "guardian": guardian.address, "scope": "protocol", "scope_id": PROTOCOL_SCOPE, "function": "pause(address,bytes32,string)"}
    pause_market = {**pause_protocol, "scope": "market", "scope_id": SCOPES[MARKET_SYMBOL]}
    vault = add("CollateralVault", deploy(w3, deployer, project("CollateralVault"), usd.address, deployer.address, guardian.address), "vault", "CollateralVault", pause=pause_protocol,
                metrics={"pool_assets": "poolAssets()(uint256)", "locked_margin": "lockedMargin()(uint256)"})
    market = add("PerpMarket", deploy(w3, deployer, project("PerpMarket"), MARKET_SYMBOL, vault.address, adapter.address, MAX_OPEN_INTEREST, deployer.address, guardian.address), "market", "PerpMarket", pause=pause_market,
                 metrics={"long_size": "longSize()(uint256)", "short_size": "shortSize()(uint256)"})
    send(w3, vault.functions.setMarket(market.address), deployer)
    lender = add("FlashLender", deploy(w3, deployer, project("FlashLender"), deployer.address), "flash_lender", "FlashLender")

    # Seed: flash-loan liquidity, the perp pool, traders' collateral.
    send(w3, weth.functions.deposit(), deployer, value=LENDER_WETH)
    send(w3, usd.functions.mint(deployer.address, LENDER_USD), deployer)
    send(w3, weth.functions.transfer(lender.address, LENDER_WETH), deployer)
    send(w3, usd.functions.transfer(lender.address, LENDER_USD), deployer)
    lp = accounts.lp
    send(w3, usd.functions.mint(lp.address, POOL_USD), deployer)
    send(w3, usd.functions.approve(vault.address, POOL_USD), lp)
    send(w3, vault.functions.addLiquidity(POOL_USD), lp)
    for trader in accounts.traders:
        send(w3, usd.functions.mint(trader.address, TRADER_USD), deployer)
        send(w3, usd.functions.approve(vault.address, 2**256 - 1), trader)
        send(w3, vault.functions.deposit(TRADER_DEPOSIT), trader)

    # Hand every admin right to the Safe.
    for contract in (feed, adapter, vault, market, lender):
        send(w3, contract.functions.transferOwnership(safe.address), deployer)

    _start_twap(w3, twap, keeper)

    entries.append({"name": "OracleAdapterImplementation", "address": adapter_impl.address, "role": "other", "abi": "abi/OracleAdapter.json"})
    for name, address in safe_support.items():
        entries.append({"name": name, "address": address, "role": "other", "abi": []})
    manifest_path = _write_manifest(w3, out_dir / manifest_name, entries, abis, accounts, safe.address)
    manifest = load_manifest(manifest_path)
    return World(rpc_url, manifest_path, manifest, {e.name: e.address for e in manifest.contracts}, accounts)


def _deploy_venue(w3: Web3, deployer: DevAccount, add: Any, prefix: str, weth: Contract, usd: Contract,
                  weth_liquidity: int) -> Contract:
    """A Uniswap V2 factory, router and WETH-dUSD pair (real npm bytecode), seeded at ETH_PRICE; returns the pair."""
    factory_name, router_name = (f"{prefix}Factory", f"{prefix}Router") if prefix else ("UniswapV2Factory", "UniswapV2Router02")
    factory = add(factory_name, deploy(w3, deployer, artifacts.uniswap_factory(), deployer.address), "other", "UniswapV2Factory")
    router = add(router_name, deploy(w3, deployer, artifacts.uniswap_router(), factory.address, weth.address), "router", "UniswapV2Router02")
    send(w3, factory.functions.createPair(weth.address, usd.address), deployer)
    pair_address = factory.functions.getPair(weth.address, usd.address).call()
    pair_name = f"WETH-dUSD-{prefix}" if prefix else "WETH-dUSD"
    pair = add(pair_name, w3.eth.contract(address=pair_address, abi=artifacts.uniswap_pair().abi), "amm_pair", "UniswapV2Pair")
    usd_liquidity = weth_liquidity * ETH_PRICE
    send(w3, weth.functions.deposit(), deployer, value=weth_liquidity)
    send(w3, usd.functions.mint(deployer.address, usd_liquidity), deployer)
    send(w3, weth.functions.approve(router.address, weth_liquidity), deployer)
    send(w3, usd.functions.approve(router.address, usd_liquidity), deployer)
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600
    send(w3, router.functions.addLiquidity(weth.address, usd.address, weth_liquidity, usd_liquidity, 0, 0,
                                           deployer.address, deadline), deployer)
    return pair


def _start_twap(w3: Web3, twap: Contract, keeper: DevAccount) -> None:
    """On a dev node, let one TWAP window pass so the TWAP has a price from the start."""
    try:
        w3.provider.make_request("evm_increaseTime", [TWAP_PERIOD])
        w3.provider.make_request("evm_mine", [])
    except Exception:  # a node without dev methods: the keeper's first update() starts the TWAP later
        return
    send(w3, twap.functions.update(), keeper)


def _write_manifest(w3: Web3, path: Path, entries: list[dict[str, Any]], abis: dict[str, list[dict[str, Any]]],
                    accounts: Accounts, safe_address: str) -> Path:
    abi_dir = path.parent / "abi"
    abi_dir.mkdir(parents=True, exist_ok=True)
    for name, abi in abis.items():
        (abi_dir / f"{name}.json").write_text(json.dumps(abi, indent=1))
    manifest = {
        "chain_id": w3.eth.chain_id,
        "block": w3.eth.block_number,
        "protocol": "demo-perps",
        "contracts": entries,
        "safe": {"address": safe_address, "owners": [o.address for o in accounts.safe_owners], "threshold": 2},
        "scopes": {"protocol": PROTOCOL_SCOPE, **SCOPES},
        "accounts": accounts.addresses(),
    }
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path.resolve()
