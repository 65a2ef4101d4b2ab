"""The demo world's market moves and price math, shared by every scenario: spot prices, swaps, the keeper's feed
pushes and TWAP updates, and governance calls made with the Safe owners' keys."""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.logs import DISCARD

from watchdog.devnet import artifacts
from watchdog.devnet.safe import ZERO_ADDRESS, SafeTx
from watchdog.devnet.world import E18, World
from watchdog.scenarios.base import Player, Step
from watchdog.scenarios.player import ImmediatePlayer

MAX_ALLOWANCE = 2**256 - 1
DEADLINE = 2**40  # swaps never expire in a scenario
FEED_SCALE = 10**10  # the feed has 8 decimals, prices here 18


def spot_price(world: World, pair: str = "WETH-dUSD") -> int:
    """WETH price in dUSD (18 decimals) at a pair's reserves."""
    contract = world.contract(pair)
    r0, r1, _ = contract.functions.getReserves().call()
    return r1 * E18 // r0 if contract.functions.token0().call() == world.addresses["WETH"] else r0 * E18 // r1


def rally_usd(world: World, pct: int) -> int:
    """dUSD to sell into the main pair to lift its WETH price by about `pct` percent (the pair's fee included)."""
    pair = world.addresses["WETH-dUSD"]
    r_weth = world.contract("WETH").functions.balanceOf(pair).call()
    r_usd = world.contract("dUSD").functions.balanceOf(pair).call()
    # constant product: price' / price = (x / x')^2, so x' = x / sqrt(1 + pct)
    target_weth = int(r_weth / (1 + pct / 100) ** 0.5)
    return (r_usd * r_weth // target_weth - r_usd) * 1003 // 1000


def at(world: World, address: str, artifact: str) -> Any:
    """A web3 contract for a project contract deployed at `address` (an attacker's, a bot's)."""
    return world.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifacts.project(artifact).abi)


def swap(play: Player, who: str, token_in: str, amount: int, *, venue: str = "UniswapV2Router02", name: str = "swap",
         actor: str | None = None, attack: bool = False) -> Step:
    """`who` swaps `amount` of "WETH" or "dUSD" for the other token on a venue's router, first wrapping the ETH and
    approving the router when needed (steps of their own)."""
    world = play.world
    holder = world.accounts[who].address
    token, router = world.contract(token_in), world.contract(venue)
    if token_in == "WETH":
        held = token.functions.balanceOf(holder).call()
        if held < amount:
            play.send("wrap ETH", token.functions.deposit(), who, actor=actor, attack=attack, value=amount - held)
    if token.functions.allowance(holder, router.address).call() < amount:
        play.send("approve", token.functions.approve(router.address, MAX_ALLOWANCE), who, actor=actor, attack=attack)
    path = [world.addresses[token_in], world.addresses["dUSD" if token_in == "WETH" else "WETH"]]
    call = router.functions.swapExactTokensForTokens(amount, 0, path, holder, DEADLINE)
    return play.send(name, call, who, actor=actor, attack=attack)


def buy_usd(world: World, who: str, weth: int) -> int:
    """`who` buys dUSD with `weth` worth of ETH on the second venue (the main pair's price is untouched), at once."""
    usd = world.contract("dUSD").functions.balanceOf(world.accounts[who].address)
    before = usd.call()
    swap(ImmediatePlayer(world), who, "WETH", weth, venue="AltSwapRouter")
    return usd.call() - before


def push_feed(play: Player, price: int | None = None, *, name: str = "feed", actor: str = "keeper",
              attack: bool = False) -> Step:
    """The keeper publishes `price` (default: the main pair's spot price) to the Chainlink-style feed."""
    answer = (price if price is not None else spot_price(play.world)) // FEED_SCALE
    return play.send(name, play.world.contract("ETH-USD-Feed").functions.updateAnswer(answer), "keeper", actor=actor,
                     attack=attack)


def update_twap(play: Player, *, name: str = "twap") -> Step | None:
    """The keeper closes the TWAP window when one is due (simulated on the pending block first, so that no no-op
    update is sent); the step when it closed one (an `Updated` event), else None."""
    world = play.world
    twap = world.contract("TwapOracle")
    if not twap.functions.update().call({"from": world.accounts.keeper.address}, block_identifier="pending"):
        return None
    step = play.send(name, twap.functions.update(), "keeper", attack=False)
    receipt = world.w3.eth.get_transaction_receipt(step.tx_hash)
    return step if twap.events.Updated().process_receipt(receipt, errors=DISCARD) else None


def compromised_governance(play: Player, name: str, contract: str, function: str, *args: Any) -> Step:
    """A call executed by the Safe with two owner signatures: here the owners' keys are the attacker's."""
    world = play.world
    target, safe = world.contract(contract), world.contract("Safe")
    data = bytes.fromhex(target.encode_abi(function, list(args))[2:])
    safe_tx = SafeTx(safe.address, world.w3.eth.chain_id, target.address, data, safe.functions.nonce().call())
    owners = world.accounts.safe_owners[:2]
    call = safe.functions.execTransaction(safe_tx.to, 0, safe_tx.data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS,
                                          safe_tx.signatures(owners))
    return play.send(name, call, owners[0].name, actor="compromised keys")
