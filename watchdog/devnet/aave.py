"""Aave V3 core on a devnet, from the real bytecode of the `@aave/core-v3` npm package's artifacts.

Deployed as Aave deploys a market: the PoolAddressesProvider, the ACLManager, the Pool and the PoolConfigurator as
proxies created by the provider (the Pool and the configurator linked to the package's logic libraries), the
AaveOracle over the package's mock aggregators, the token implementations (AToken, StableDebtToken,
VariableDebtToken), an interest-rate strategy, and two reserves whose underlying tokens are the package's
MintableERC20, supplied by a liquidity provider. EMERGENCY_ADMIN goes to the responder dev account, so the
watchdog's responder can pause with `PoolConfigurator.setPoolPause(true)` or `setReservePause(asset, true)`.

`aave_on_anvil(anvil)` deploys once and later loads anvil's state dump from anvil/state/ (not committed), keyed on
the npm lock (the package version, anvil) and the deployer code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception

from watchdog import toolchain
from watchdog.devnet import accounts as accounts_module
from watchdog.devnet import txs
from watchdog.devnet.accounts import Accounts, DevAccount
from watchdog.devnet.anvil import Anvil
from watchdog.devnet.artifacts import Artifact
from watchdog.devnet.txs import connect, deploy, send
from watchdog.errors import RpcError, ToolchainError

PACKAGE = "@aave/core-v3"
STATE_DIR = toolchain.PROJECT_ROOT / "anvil" / "state"
# Contract name -> its source under contracts/ (hardhat puts the artifact at artifacts/contracts/<source>/<name>.json).
SOURCES = {
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol",
    "ACLManager": "protocol/configuration/ACLManager.sol",
    "Pool": "protocol/pool/Pool.sol",
    "PoolConfigurator": "protocol/pool/PoolConfigurator.sol",
    "DefaultReserveInterestRateStrategy": "protocol/pool/DefaultReserveInterestRateStrategy.sol",
    "AToken": "protocol/tokenization/AToken.sol",
    "StableDebtToken": "protocol/tokenization/StableDebtToken.sol",
    "VariableDebtToken": "protocol/tokenization/VariableDebtToken.sol",
    "AaveOracle": "misc/AaveOracle.sol",
    "MintableERC20": "mocks/tokens/MintableERC20.sol",
    "MockAggregator": "mocks/oracle/CLAggregators/MockAggregator.sol",
}

ZERO_ADDRESS = "0x" + "00" * 20
RAY = 10**27
MARKET_ID = "Watchdog devnet market"
PRICE_UNIT = 10**8  # the oracle's base unit: USD with 8 decimals, as Aave's markets quote


@dataclass(frozen=True)
class ReserveSpec:
    """A reserve's underlying test token (the package's MintableERC20) and its seed amounts (whole tokens)."""

    name: str
    decimals: int
    price: int  # dollars
    lp_supply: int  # supplied by the liquidity provider at deployment
    user_funds: int  # minted to each trader, approved to the Pool


# Two reserves, so that pausing one can be told from pausing the pool. The first is the market's main asset.
RESERVES = {"tUSD": ReserveSpec("Test USD", 18, 1, 1_000_000, 100_000),
            "tETH": ReserveSpec("Test Ether", 18, 3_000, 500, 50)}
COLLATERAL = (8_000, 8_500, 10_500)  # LTV, liquidation threshold, liquidation bonus (basis points)
# A stablecoin-like rate curve: optimal usage 90%, base 0, slopes 4% / 60% (variable), 0.5% / 60% (stable),
# base stable offset 1%, stable excess offset 8%, optimal stable-to-total debt 20%.
RATE_STRATEGY = (90 * RAY // 100, 0, 4 * RAY // 100, 60 * RAY // 100, RAY // 200, 60 * RAY // 100,
                 RAY // 100, 8 * RAY // 100, 20 * RAY // 100)

# ReserveConfiguration bit positions (this version's ReserveConfiguration.sol).
ACTIVE_BIT, FROZEN_BIT, BORROWING_BIT, PAUSED_BIT = 56, 57, 58, 60


@dataclass(frozen=True)
class ReserveFlags:
    active: bool
    frozen: bool
    borrowing_enabled: bool
    paused: bool

    @classmethod
    def from_configuration(cls, data: int) -> "ReserveFlags":
        bit = lambda n: bool(data >> n & 1)  # noqa: E731
        return cls(bit(ACTIVE_BIT), bit(FROZEN_BIT), bit(BORROWING_BIT), bit(PAUSED_BIT))


# --- the package's artifacts, linked -----------------------------------------------------------------------

def _artifacts_dir() -> Path:
    path = toolchain.node_modules() / PACKAGE / "artifacts" / "contracts"
    if not path.is_dir():
        raise ToolchainError(f"{PACKAGE} is not installed: run `make setup` (or `npm install`) in the watchdog checkout")
    return path


@cache
def _raw(source: str, name: str) -> dict[str, Any]:
    return json.loads((_artifacts_dir() / source / f"{name}.json").read_text())


def abi(name: str) -> list[dict[str, Any]]:
    """The ABI of one of the deployed contract types (a key of SOURCES)."""
    return _raw(SOURCES[name], name)["abi"]


def _linked(source: str, name: str, w3: Web3, deployer: DevAccount, libraries: dict[str, str]) -> Artifact:
    """The artifact with every library placeholder replaced by the address of that library, deployed on first need
    (libraries may link others: FlashLoanLogic uses BorrowLogic). `libraries` maps library name -> address."""
    data = _raw(source, name)
    code = data["bytecode"].removeprefix("0x")
    for library_source, names in data["linkReferences"].items():
        for library, places in names.items():
            if library not in libraries:
                lib_artifact = _linked(library_source.removeprefix("contracts/"), library, w3, deployer, libraries)
                libraries[library] = deploy(w3, deployer, lib_artifact).address
            address = libraries[library].lower().removeprefix("0x")
            for place in places:
                start, length = 2 * place["start"], 2 * place["length"]
                if code[start:start + 3] != "__$":
                    raise ToolchainError(f"{PACKAGE} {name}: no placeholder for {library} at byte {place['start']}")
                code = code[:start] + address + code[start + length:]
    return Artifact(name, data["abi"], "0x" + code)


# --- the deployed market ------------------------------------------------------------------------------------

@dataclass
class AaveMarket:
    """A deployed Aave V3 market: addresses by manifest name, the block it is complete at, the dev accounts.

    The pool admin (and ACL admin, provider owner) is the deployer; EMERGENCY_ADMIN is the responder;
    the liquidity provider `lp` has supplied; traders hold test tokens approved to the Pool."""

    rpc_url: str
    chain_id: int
    block: int
    addresses: dict[str, str]
    accounts: Accounts = field(default_factory=Accounts)

    # What a pause needs.
    @property
    def configurator(self) -> str:
        return self.addresses["PoolConfigurator"]

    @property
    def asset(self) -> str:
        """The main reserve's underlying token (tUSD)."""
        return self.addresses[next(iter(RESERVES))]

    @property
    def reserves(self) -> dict[str, str]:
        """Underlying token address by symbol, for every reserve."""
        return {symbol: self.addresses[symbol] for symbol in RESERVES}

    @property
    def emergency_admin(self) -> DevAccount:
        return self.accounts.responder

    @property
    def pool_admin(self) -> DevAccount:
        return self.accounts.deployer

    @cached_property
    def w3(self) -> Web3:
        return connect(self.rpc_url, self.accounts.all())

    @property
    def abis(self) -> dict[str, list[dict[str, Any]]]:
        """ABI by manifest name (a proxy gets its implementation's ABI)."""
        return {name: abi(kind) for name, (kind, _role) in _manifest_entries().items()}

    def contract(self, name: str) -> Contract:
        """A web3 contract for a manifest name: Pool, PoolConfigurator, ACLManager, PoolAddressesProvider, tUSD..."""
        return self.w3.eth.contract(address=Web3.to_checksum_address(self.addresses[name]), abi=self.abis[name])

    def send(self, call: Any, sender: DevAccount | str) -> Any:
        """Send a contract call from a named dev account; raises RpcError when it reverts."""
        return send(self.w3, call, self.accounts[sender] if isinstance(sender, str) else sender)

    def reserve_flags(self, asset: str | None = None) -> ReserveFlags:
        """Active, frozen, borrowing and paused bits of `Pool.getReserveData(asset).configuration`."""
        data = self.contract("Pool").functions.getReserveData(Web3.to_checksum_address(asset or self.asset)).call()
        return ReserveFlags.from_configuration(data[0][0])

    def write_manifest(self, out_dir: Path) -> Path:
        """out_dir/manifest.json in the project's manifest format, with one ABI file per contract type in out_dir/abi/."""
        out_dir = Path(out_dir)
        (out_dir / "abi").mkdir(parents=True, exist_ok=True)
        contracts = []
        for name, (kind, role) in _manifest_entries().items():
            (out_dir / "abi" / f"{kind}.json").write_text(json.dumps(abi(kind), indent=1))
            contracts.append({"name": name, "address": self.addresses[name], "role": role, "abi": f"abi/{kind}.json"})
        manifest = {"chain_id": self.chain_id, "block": self.block, "protocol": "aave-v3", "contracts": contracts,
                    "accounts": self.accounts.addresses()}
        path = out_dir / "manifest.json"
        path.write_text(json.dumps(manifest, indent=2) + "\n")
        return path.resolve()


def _manifest_entries() -> dict[str, tuple[str, str]]:
    """Manifest name -> (contract type, role). An aToken holds its reserve's deposits, hence `vault`."""
    entries = {
        "PoolAddressesProvider": ("PoolAddressesProvider", "other"),
        "ACLManager": ("ACLManager", "other"),
        "Pool": ("Pool", "lending"),
        "PoolConfigurator": ("PoolConfigurator", "other"),
        "AaveOracle": ("AaveOracle", "other"),
    }
    for symbol in RESERVES:
        entries[symbol] = ("MintableERC20", "token")
        entries[f"a{symbol}"] = ("AToken", "vault")
    return entries


def deploy_aave(rpc_url: str) -> AaveMarket:
    """Deploy the market onto `rpc_url` from the named dev accounts (any node that funds anvil's dev accounts)."""
    accounts = Accounts()
    w3 = connect(rpc_url, accounts.all())
    if not w3.is_connected():
        raise RpcError(f"no JSON-RPC node answers at {rpc_url}: start one (e.g. `watchdog devnet up`) or fix the URL")
    try:
        addresses = _deploy(w3, accounts)
    except (Web3Exception, ValueError) as exc:  # e.g. unfunded dev accounts on a non-dev node
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RpcError(f"deploying Aave V3 on {rpc_url} failed ({reason}): use a node that funds anvil's dev accounts") from exc
    return AaveMarket(rpc_url, w3.eth.chain_id, w3.eth.block_number, addresses, accounts)


def _deploy(w3: Web3, accounts: Accounts) -> dict[str, str]:
    admin, lp = accounts.deployer, accounts.lp
    libraries: dict[str, str] = {}

    def new(name: str, *args: Any) -> Contract:
        return deploy(w3, admin, _linked(SOURCES[name], name, w3, admin, libraries), *args)

    def call(contract: Contract, function: str, *args: Any, sender: DevAccount = admin) -> Any:
        return send(w3, contract.get_function_by_name(function)(*args), sender)

    provider = new("PoolAddressesProvider", MARKET_ID, admin.address)
    call(provider, "setACLAdmin", admin.address)
    acl = new("ACLManager", provider.address)
    call(provider, "setACLManager", acl.address)
    call(acl, "addPoolAdmin", admin.address)
    call(acl, "addEmergencyAdmin", accounts.responder.address)

    # The provider creates the proxies and initializes them; the implementations are initialized too, as Aave's
    # deployment does, so that nobody else can.
    pool_impl = new("Pool", provider.address)
    call(pool_impl, "initialize", provider.address)
    call(provider, "setPoolImpl", pool_impl.address)
    pool = w3.eth.contract(address=provider.functions.getPool().call(), abi=pool_impl.abi)
    configurator_impl = new("PoolConfigurator")
    call(configurator_impl, "initialize", provider.address)
    call(provider, "setPoolConfiguratorImpl", configurator_impl.address)
    configurator = w3.eth.contract(address=provider.functions.getPoolConfigurator().call(), abi=configurator_impl.abi)

    tokens = {symbol: new("MintableERC20", spec.name, symbol, spec.decimals) for symbol, spec in RESERVES.items()}
    sources = [new("MockAggregator", spec.price * PRICE_UNIT).address for spec in RESERVES.values()]
    oracle = new("AaveOracle", provider.address, [t.address for t in tokens.values()], sources, ZERO_ADDRESS, ZERO_ADDRESS, PRICE_UNIT)
    call(provider, "setPriceOracle", oracle.address)

    a_token, stable_debt, variable_debt = (new(kind, pool.address) for kind in ("AToken", "StableDebtToken", "VariableDebtToken"))
    strategy = new("DefaultReserveInterestRateStrategy", provider.address, *RATE_STRATEGY)
    call(configurator, "initReserves", [
        (a_token.address, stable_debt.address, variable_debt.address, spec.decimals, strategy.address, tokens[symbol].address,
         admin.address, ZERO_ADDRESS, f"Aave devnet {symbol}", f"a{symbol}", f"Aave devnet variable debt {symbol}",
         f"variableDebt{symbol}", f"Aave devnet stable debt {symbol}", f"stableDebt{symbol}", b"")
        for symbol, spec in RESERVES.items()])

    addresses = {"PoolAddressesProvider": provider.address, "ACLManager": acl.address, "Pool": pool.address,
                 "PoolConfigurator": configurator.address, "AaveOracle": oracle.address}
    for symbol, spec in RESERVES.items():
        token, unit = tokens[symbol], 10**spec.decimals
        call(configurator, "configureReserveAsCollateral", token.address, *COLLATERAL)
        call(configurator, "setReserveBorrowing", token.address, True)
        mint = token.get_function_by_signature("mint(address,uint256)")
        send(w3, mint(lp.address, spec.lp_supply * unit), admin)
        call(token, "approve", pool.address, spec.lp_supply * unit, sender=lp)
        call(pool, "supply", token.address, spec.lp_supply * unit, lp.address, 0, sender=lp)
        for trader in accounts.traders:
            send(w3, mint(trader.address, spec.user_funds * unit), admin)
            call(token, "approve", pool.address, 2**256 - 1, sender=trader)
        addresses[symbol] = token.address
        addresses[f"a{symbol}"] = pool.functions.getReserveData(token.address).call()[8]  # ReserveData.aTokenAddress
    return addresses


# --- the state cache ----------------------------------------------------------------------------------------

def cache_key(chain_id: int) -> str:
    """What shapes the dumped state: the chain id (token domain separators), the npm lock (the package version,
    anvil's dump format) and the deployer code."""
    digest = hashlib.sha256(str(chain_id).encode())
    for path in (Path(__file__), Path(accounts_module.__file__), Path(txs.__file__), toolchain.PROJECT_ROOT / "package-lock.json"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def aave_on_anvil(anvil: Anvil, *, use_cache: bool = True) -> AaveMarket:
    """The market on `anvil`: loaded from the state cache when the chain is fresh and a dump exists, otherwise
    deployed (and, on a fresh chain, dumped for next time)."""
    if not (use_cache and anvil.block_number() == 0):
        return deploy_aave(anvil.url)
    chain_id = int(anvil.rpc("eth_chainId"), 16)
    entry = STATE_DIR / f"aave-{cache_key(chain_id)}.json"
    try:
        saved = json.loads(entry.read_text())
        anvil.rpc("anvil_loadState", [saved["state"]])
        return AaveMarket(anvil.url, chain_id, saved["block"], saved["addresses"])
    except (OSError, json.JSONDecodeError, KeyError, RpcError):  # no entry yet, or a damaged one: deploy
        if anvil.block_number() != 0:
            return deploy_aave(anvil.url)
    market = deploy_aave(anvil.url)
    _store(entry, {"state": anvil.rpc("anvil_dumpState"), "block": market.block, "addresses": market.addresses})
    return market


def _store(entry: Path, data: dict[str, Any]) -> None:
    """Write atomically (concurrent runs never read half an entry) and drop the entries of older keys."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".staging-", dir=entry.parent)
    with os.fdopen(handle, "w") as out:
        json.dump(data, out)
    os.replace(staging, entry)
    for stale in entry.parent.glob("aave-*.json"):
        if stale != entry:
            stale.unlink(missing_ok=True)
