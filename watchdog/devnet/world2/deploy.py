"""Deploy the Harbor world onto an anvil: tokens, three real Uniswap V2 pools on two venues, a flash reserve,
price feeds and a TWAP, the four protocols, and the positions of dozens of accounts. Then write the roles-only
manifest (name, address, role, ABI path and the pause function of each contract; nothing else).

`deploy_harbor(rpc_url, out_dir)` needs anvil's `anvil_setBalance` (the derived accounts are funded with it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3.exceptions import Web3Exception

from watchdog.devnet import artifacts
from watchdog.devnet.world2.chain import HarborWorld, write_json
from watchdog.errors import RpcError

USD = 10**6  # hUSD, the quote token, has 6 decimals
E18 = 10**18
ETH_PRICE = 3_000  # hUSD per WETH at deployment
BTC_PRICE = 60_000
HBR_PRICE_CENTS = 200
FEED_DECIMALS = 8
TWAP_WINDOW = 600  # seconds the options' settlement price averages over
TWAP_MIN_GAP = 60
RATE_PER_SECOND = 5 * 10**16 // (365 * 86_400)  # 5% a year
FLASH_FEE_BPS = 5
MARKETS = {symbol: "0x" + keccak(text=symbol).hex() for symbol in ("ETH-PERP", "BTC-PERP")}

POOL_A_WETH = 1_000 * E18  # the pool the credit pool prices WETH on
POOL_B_WETH = 2_000 * E18  # the second venue
HBR_POOL = 500_000 * E18

# name -> (role, artifact, pause function); the manifest lists exactly these, in this order.
CONTRACTS: dict[str, tuple[str, str, str | None]] = {
    "hUSD": ("token", "IssuedToken", None),
    "HBR": ("token", "IssuedToken", None),
    "WETH": ("token", "WETH9", None),
    "UniswapRouter": ("router", "UniswapV2Router02", None),
    "ForkSwapRouter": ("router", "UniswapV2Router02", None),
    "UniswapWethUsd": ("amm_pair", "UniswapV2Pair", None),
    "ForkSwapWethUsd": ("amm_pair", "UniswapV2Pair", None),
    "UniswapHbrUsd": ("amm_pair", "UniswapV2Pair", None),
    "EthUsdFeed": ("oracle_feed", "PushAggregator", None),
    "BtcUsdFeed": ("oracle_feed", "PushAggregator", None),
    "HbrTwap": ("twap_oracle", "PairTwapOracle", None),
    "CreditPool": ("lending", "CreditPool", "pause()"),
    "OptionsHouse": ("market", "OptionsHouse", "pause()"),
    "PerpExchange": ("market", "PerpExchange", "pauseMarket(bytes32)"),
    "SavingsVault": ("vault", "SavingsVault", "freeze()"),
    "TermVault": ("vault", "SavingsVault", "freeze()"),
    "FlashReserve": ("flash_lender", "FlashReserve", None),
}
SPENDERS = ("CreditPool", "SavingsVault", "TermVault", "OptionsHouse", "PerpExchange", "UniswapRouter", "ForkSwapRouter")
TRADERS = ("whale", "maker", "perp_lp", "liquidator", "arbitrageur", "newcomer", "lp")


def deploy_harbor(rpc_url: str, out_dir: Path) -> HarborWorld:
    """Deploy and seed the Harbor world; writes out_dir/manifest.json and out_dir/abi/*.json."""
    out_dir = Path(out_dir)
    world = HarborWorld(rpc_url, (out_dir / "manifest.json").resolve(), {}, {})
    try:
        world.chain_id
    except (Web3Exception, OSError) as exc:
        raise RpcError(f"no JSON-RPC node answers at {rpc_url}: start anvil or fix the URL") from exc
    _fund_ether(world)
    with world.fast():
        _deploy_contracts(world)
    with world.fast():
        _fund_accounts(world)
    with world.fast():
        _open_positions(world)
    _start_twap(world)
    _write_manifest(world, out_dir)
    return world


def _fund_ether(world: HarborWorld) -> None:
    rich = {"deployer": 100_000, "lp": 10_000, "whale": 100_000}
    for acct in world.accounts.all():
        world.rpc("anvil_setBalance", [acct.address, hex(rich.get(acct.name, 1_000) * E18)])


def _deploy_contracts(world: HarborWorld) -> None:
    a = world.accounts
    add = _registrar(world)
    usd = add("hUSD", world.deploy(a.deployer, "IssuedToken", "Harbor USD", "hUSD", 6, a.deployer.address))
    hbr = add("HBR", world.deploy(a.deployer, "IssuedToken", "Harbor", "HBR", 18, a.deployer.address))
    weth = add("WETH", world.deploy(a.deployer, artifacts.weth9()))
    pairs: dict[str, Any] = {}
    for venue in ("Uniswap", "ForkSwap"):
        factory = world.deploy(a.deployer, artifacts.uniswap_factory(), a.deployer.address)
        add(f"{venue}Router", world.deploy(a.deployer, artifacts.uniswap_router(), factory.address, weth.address))
        wanted = [("WethUsd", weth)] + ([("HbrUsd", hbr)] if venue == "Uniswap" else [])
        for label, token in wanted:
            world.submit(factory.functions.createPair(token.address, usd.address), a.deployer, label="createPair")
            address = factory.functions.getPair(token.address, usd.address).call()
            pairs[f"{venue}{label}"] = add(f"{venue}{label}", world.w3.eth.contract(address=address, abi=artifacts.uniswap_pair().abi))
    eth_feed = add("EthUsdFeed", world.deploy(a.deployer, "PushAggregator", FEED_DECIMALS, "ETH / USD",
                                              ETH_PRICE * 10**FEED_DECIMALS, a.keeper.address, a.perps_admin.address))
    btc_feed = add("BtcUsdFeed", world.deploy(a.deployer, "PushAggregator", FEED_DECIMALS, "BTC / USD",
                                              BTC_PRICE * 10**FEED_DECIMALS, a.keeper.address, a.perps_admin.address))
    _seed_pools(world, pairs)
    twap = add("HbrTwap", world.deploy(a.deployer, "PairTwapOracle", pairs["UniswapHbrUsd"].address, hbr.address,
                                       TWAP_WINDOW, TWAP_MIN_GAP))
    savings = add("SavingsVault", world.deploy(a.deployer, "SavingsVault", usd.address, "Harbor Savings hUSD", "svhUSD",
                                               a.savings_admin.address, a.responder.address))
    add("TermVault", world.deploy(a.deployer, "SavingsVault", usd.address, "Harbor Term Savings hUSD", "thUSD",
                                  a.savings_admin.address, a.responder.address))
    credit = add("CreditPool", world.deploy(a.deployer, "CreditPool", usd.address, RATE_PER_SECOND,
                                            a.credit_admin.address, a.responder.address))
    pair_spot, vault_share = 1, 2  # CreditPool.Pricing
    world.submit(credit.functions.configureCollateral(weth.address, pair_spot, pairs["UniswapWethUsd"].address, 7_500, 8_500),
                 a.credit_admin, label="list WETH")
    world.submit(credit.functions.configureCollateral(savings.address, vault_share, savings.address, 9_000, 9_500),
                 a.credit_admin, label="list svhUSD")
    add("OptionsHouse", world.deploy(a.deployer, "OptionsHouse", usd.address, twap.address, a.options_admin.address,
                                     a.responder.address))
    perps = add("PerpExchange", world.deploy(a.deployer, "PerpExchange", usd.address, a.perps_admin.address,
                                             a.responder.address))
    for symbol, feed in (("ETH-PERP", eth_feed), ("BTC-PERP", btc_feed)):
        world.submit(perps.functions.listMarket(MARKETS[symbol], feed.address, 10, 500, 10), a.perps_admin, label="listMarket")
    reserve = add("FlashReserve", world.deploy(a.deployer, "FlashReserve", FLASH_FEE_BPS, a.deployer.address))
    for token in (usd, weth):
        world.submit(reserve.functions.setSupported(token.address, True), a.deployer, label="setSupported")
    world.submit(usd.functions.mint(reserve.address, 3_000_000 * USD), a.deployer)
    world.submit(weth.functions.deposit(), a.deployer, value=500 * E18)
    world.submit(weth.functions.transfer(reserve.address, 500 * E18), a.deployer)


def _registrar(world: HarborWorld) -> Any:
    def add(name: str, contract: Any) -> Any:
        world.addresses[name] = contract.address
        world.abis[name] = contract.abi
        return contract
    return add


def _seed_pools(world: HarborWorld, pairs: dict[str, Any]) -> None:
    """The liquidity provider's deposits: 3,000 hUSD per WETH on both venues, 2 hUSD per HBR."""
    a, usd, hbr, weth = world.accounts, world.contract("hUSD"), world.contract("HBR"), world.contract("WETH")
    world.submit(usd.functions.mint(a.lp.address, 20_000_000 * USD), a.deployer)
    world.submit(hbr.functions.mint(a.lp.address, 1_000_000 * E18), a.deployer)
    world.submit(weth.functions.deposit(), a.lp, value=POOL_A_WETH + POOL_B_WETH)
    seeds = {
        "UniswapWethUsd": (weth, POOL_A_WETH, POOL_A_WETH // E18 * ETH_PRICE * USD),
        "ForkSwapWethUsd": (weth, POOL_B_WETH, POOL_B_WETH // E18 * ETH_PRICE * USD),
        "UniswapHbrUsd": (hbr, HBR_POOL, HBR_POOL // E18 * HBR_PRICE_CENTS * USD // 100),
    }
    for name, (token, amount, cash) in seeds.items():
        pair = pairs[name]
        world.submit(token.functions.transfer(pair.address, amount), a.lp)
        world.submit(usd.functions.transfer(pair.address, cash), a.lp)
        world.submit(pair.functions.mint(a.lp.address), a.lp, label=f"seed {name}")


def _fund_accounts(world: HarborWorld) -> None:
    """Users and market participants get hUSD, HBR and WETH, and approve the protocols and routers."""
    a, usd, hbr, weth = world.accounts, world.contract("hUSD"), world.contract("HBR"), world.contract("WETH")
    grants = {acct.name: (250_000 * USD, 20_000 * E18, 60 * E18) for acct in a.users}
    grants |= {"whale": (30_000_000 * USD, 200_000 * E18, 8_000 * E18), "maker": (3_000_000 * USD, 0, 0),
               "perp_lp": (5_000_000 * USD, 0, 0), "arbitrageur": (100_000 * USD, 0, 50 * E18),
               "newcomer": (200_000 * USD, 0, 0), "liquidator": (0, 0, 0), "lp": (0, 0, 0)}
    unlimited = 2**256 - 1
    for name, (cash, governance, wrapped) in grants.items():
        acct = a[name]
        if cash:
            world.submit(usd.functions.mint(acct.address, cash), a.deployer)
        if governance:
            world.submit(hbr.functions.mint(acct.address, governance), a.deployer)
        if wrapped:
            world.submit(weth.functions.deposit(), acct, value=wrapped)
        for spender in SPENDERS:
            world.submit(usd.functions.approve(world.addresses[spender], unlimited), acct)
        for spender in ("CreditPool", "UniswapRouter", "ForkSwapRouter"):
            world.submit(weth.functions.approve(world.addresses[spender], unlimited), acct)
        world.submit(hbr.functions.approve(world.addresses["UniswapRouter"], unlimited), acct)
        world.submit(world.contract("SavingsVault").functions.approve(world.addresses["CreditPool"], unlimited), acct)


def _open_positions(world: HarborWorld) -> None:
    """Suppliers and borrowers on the credit pool, savers in the savings vault (the term vault stays empty,
    newly listed), liquidity and traders on the perp exchange, option series written and bought."""
    a, users = world.accounts, world.accounts.users
    credit, savings = world.contract("CreditPool"), world.contract("SavingsVault")
    perps, house = world.contract("PerpExchange"), world.contract("OptionsHouse")
    weth, shares = world.addresses["WETH"], world.addresses["SavingsVault"]
    for user in users[:20]:
        world.submit(credit.functions.supply(120_000 * USD), user)
    world.submit(credit.functions.supply(5_000_000 * USD), a.whale)
    for user in users[20:35]:
        world.submit(savings.functions.deposit(80_000 * USD, user.address), user)
    world.submit(savings.functions.deposit(800_000 * USD, a.whale.address), a.whale)
    for i, user in enumerate(users[:10]):  # 30 WETH (90,000 hUSD) each, borrowing 44% to 59% of it
        world.submit(credit.functions.depositCollateral(weth, 30 * E18), user)
        world.submit(credit.functions.borrow((40_000 + 1_500 * i) * USD), user)
    for user in users[20:25]:  # savings shares as collateral
        world.submit(credit.functions.depositCollateral(shares, 50_000 * USD), user)
        world.submit(credit.functions.borrow(35_000 * USD), user)
    world.submit(perps.functions.addLiquidity(4_000_000 * USD), a.perp_lp)
    for i, user in enumerate(users[10:20]):  # 3x positions of 30,000 hUSD notional
        symbol = "ETH-PERP" if i % 2 == 0 else "BTC-PERP"
        size = 10 * E18 if symbol == "ETH-PERP" else E18 // 2
        world.submit(perps.functions.openPosition(MARKETS[symbol], size if i % 4 < 2 else -size, 10_000 * USD), user)
    expiry = world.now() + 30 * 86_400
    series = [(True, 2_400_000, 4_000_000, expiry, 60_000), (False, 1_600_000, 0, expiry, 50_000),
              (True, 2_200_000, 3_000_000, expiry + 60 * 86_400, 150_000)]
    for sid, (is_call, strike, cap, when, premium) in enumerate(series):
        world.submit(house.functions.openSeries(is_call, strike, cap, when, premium), a.maker)
        world.submit(house.functions.write(sid, 100_000 * E18), a.maker)
    for i, user in enumerate(users[25:30]):
        world.submit(house.functions.buy(i % 2, 10_000 * E18, 2_000 * USD), user)


def _start_twap(world: HarborWorld) -> None:
    """A window of history, so that the options can settle from the start."""
    twap = world.contract("HbrTwap")
    for _ in range(3):
        world.warp(TWAP_WINDOW // 2 + 30)
        world.send(twap.functions.update(), world.accounts.keeper)


def market_ids(world: HarborWorld) -> list[bytes]:
    perps = world.contract("PerpExchange")
    return [perps.functions.marketIds(i).call() for i in range(perps.functions.marketCount().call())]


def _write_manifest(world: HarborWorld, out_dir: Path) -> None:
    entries = []
    for name, (role, artifact, pause) in CONTRACTS.items():
        write_json(out_dir / "abi" / f"{artifact}.json", world.abis[name])
        entry: dict[str, Any] = {"name": name, "address": world.addresses[name], "role": role, "abi": f"abi/{artifact}.json"}
        if pause == "pauseMarket(bytes32)":  # one pause per market, checked by the market's own flag
            entry["pause"] = [{"via": "self", "call": pause, "args": ["0x" + market.hex()],
                               "check": {"call": "isMarketPaused(bytes32)(bool)", "args": ["0x" + market.hex()]}}
                              for market in market_ids(world)]
        elif pause:
            entry["pause"] = {"via": "self", "call": pause}
        entries.append(entry)
    write_json(out_dir / "manifest.json", {"chain_id": world.chain_id, "block": world.block_number(), "contracts": entries})
