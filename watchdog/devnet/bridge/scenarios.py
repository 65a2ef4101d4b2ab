"""Scenarios on the bridge world for cross-chain monitoring: benign traffic and attacks. Each is a plain function
that takes the deployed `BridgeWorld` and returns a `BridgeOutcome` (what happened, with the transactions and
message ids on each chain, and the escrow and the wrapped supply before and after).

The attacks, and why they are realistic:
- forged mint: the relayer's key is stolen; the attacker signs a lock message that never happened on A (with the
  route's next nonce, so it looks like the next transfer) and mints on B;
- compromised relayer: with the same key the attacker mints more than the whole escrow, burns part of it to sign
  and take a release of everything locked on A, and borrows against the rest in B's market;
- replayed message: the current minter rejects a delivered message (`AlreadyDelivered`, the failed transaction
  lands); the legacy V1 minter, left with minting rights after the migration, checks the destination chain but
  not the destination contract and keeps its own replay set, so the same signed message (public in the first
  delivery's calldata) mints a second time there;
- stuck relayer: the relayer still runs but delivers nothing: locks on A wait, the relayed price stops moving;
- diverging price: the compromised relayer relays a source round with a false answer; the attacker borrows
  against collateral valued at that price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from watchdog.devnet.accounts import DevAccount
from watchdog.devnet.bridge.messages import Message
from watchdog.devnet.bridge.relayer import Delivery, Relayer
from watchdog.devnet.bridge.world import E18, BridgeWorld
from watchdog.chain.abi import selector
from watchdog.devnet.world import World

BPS = 10_000
FAILED_TX_GAS = 500_000  # a fixed gas limit lets a reverting attempt land on chain, as real failed attempts do


@dataclass
class BridgeOutcome:
    """What a scenario did. `unbacked` is bALP on B that no ALP locked on A stands behind."""

    scenario: str
    incident: bool  # a cross-chain monitor must report it (every scenario but benign traffic)
    escrowed_before: int
    supply_before: int
    escrowed_after: int = 0
    supply_after: int = 0
    home_txs: list[str] = field(default_factory=list)
    remote_txs: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # ids of the messages the scenario sent, forged or replayed
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def unbacked(self) -> int:
        return max(0, self.supply_after - self.escrowed_after)


class _Recorder:
    """Collects a scenario's transactions and measures the bridge before and after."""

    def __init__(self, world: BridgeWorld, scenario: str, incident: bool) -> None:
        self.world = world
        self.outcome = BridgeOutcome(scenario, incident, world.escrowed(), world.wrapped_supply())

    def home(self, receipt: Any) -> Any:
        self.outcome.home_txs.append(receipt["transactionHash"].to_0x_hex())
        return receipt

    def remote(self, receipt: Any) -> Any:
        self.outcome.remote_txs.append(receipt["transactionHash"].to_0x_hex())
        return receipt

    def deliveries(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            (self.outcome.remote_txs if delivery.source == "home" else self.outcome.home_txs).append(delivery.tx_hash)

    def finish(self, **details: Any) -> BridgeOutcome:
        self.outcome.escrowed_after = self.world.escrowed()
        self.outcome.supply_after = self.world.wrapped_supply()
        self.outcome.details.update(details)
        return self.outcome


# --- building blocks ---

def mine(network: World, blocks: int = 1) -> None:
    """Mine `blocks` empty blocks on one network (dev node method)."""
    network.w3.provider.make_request("anvil_mine", [hex(blocks)])


def bridge_out(world: BridgeWorld, who: str, amount: int) -> tuple[Any, Message]:
    """`who` locks `amount` ALP on A for itself on B; the receipt and the message the escrow sent."""
    escrow = world.home.contract("BridgeEscrow")
    receipt = world.home.send(escrow.functions.lock(world.remote_chain_id, world.accounts[who].address, amount), who)
    return receipt, sent_message(world.home, escrow, receipt)


def bridge_back(world: BridgeWorld, who: str, amount: int) -> tuple[Any, Message]:
    """`who` burns `amount` bALP on B to get ALP back on A; the receipt and the message the minter sent."""
    minter = world.remote.contract("BridgeMinter")
    receipt = world.remote.send(minter.functions.burn(world.home_chain_id, world.accounts[who].address, amount), who)
    return receipt, sent_message(world.remote, minter, receipt)


def sent_message(network: World, endpoint: Any, receipt: Any) -> Message:
    args = next(log["args"] for log in endpoint.events.MessageSent().process_receipt(receipt, errors=DISCARD)
                if log["address"] == endpoint.address)
    destination = endpoint.functions.remotes(args["destinationChainId"]).call()
    return Message(network.manifest.chain_id, endpoint.address, args["destinationChainId"], destination,
                   args["nonce"], args["sender"], args["recipient"], args["amount"])


def push_source_price(world: BridgeWorld, answer: int) -> Any:
    """The keeper publishes `answer` (8 decimals) to ALP / USD on A."""
    return world.home.send(world.home.contract("ALP-USD-Feed").functions.updateAnswer(answer), "keeper")


def relay_until_idle(world: BridgeWorld, relayer: Relayer, max_blocks: int = 50) -> list[Delivery]:
    """Step the relayer, mining one block on each chain between steps (time passing), until nothing is pending."""
    delivered = relayer.step()
    for _ in range(max_blocks):
        if not relayer.pending:
            break
        mine(world.home)
        mine(world.remote)
        delivered += relayer.step()
    return delivered


def _submit(network: World, call: Any, sender: DevAccount) -> tuple[Any, str | None]:
    """Send `call` with fixed gas so that it lands even when it reverts; the receipt and the custom error's
    selector when it reverted (None when it succeeded)."""
    try:
        call.call({"from": sender.address})
        error = None
    except ContractLogicError as exc:
        error = exc.data[:10] if isinstance(exc.data, str) else "0x"
    tx_hash = call.transact({"from": sender.address, "gas": FAILED_TX_GAS})
    return network.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60), error


def forge_lock(world: BridgeWorld, recipient: str, amount: int, nonce: int) -> Message:
    """A lock message that never happened on A, addressed to the current minter."""
    return Message(world.home_chain_id, world.home.addresses["BridgeEscrow"], world.remote_chain_id,
                   world.remote.addresses["BridgeMinter"], nonce, recipient, recipient, amount)


def forge_burn(world: BridgeWorld, recipient: str, amount: int, nonce: int) -> Message:
    """A burn message that never happened on B, addressed to the escrow (it releases `amount` on A)."""
    return Message(world.remote_chain_id, world.remote.addresses["BridgeMinter"], world.home_chain_id,
                   world.home.addresses["BridgeEscrow"], nonce, recipient, recipient, amount)


def next_lock_nonce(world: BridgeWorld) -> int:
    return world.home.contract("BridgeEscrow").functions.outboundNonce(world.remote_chain_id).call() + 1


def next_burn_nonce(world: BridgeWorld) -> int:
    return world.remote.contract("BridgeMinter").functions.outboundNonce(world.home_chain_id).call() + 1


def _borrow_max(world: BridgeWorld, who: str, collateral: int, rec: _Recorder) -> int:
    """`who` posts `collateral` bALP in the market and borrows all the loan-to-value allows at the relayed price."""
    market = world.remote.contract("BridgedCollateralMarket")
    rec.remote(world.remote.send(market.functions.depositCollateral(collateral), who))
    address = world.accounts[who].address
    ltv, price = market.functions.loanToValueBps().call(), market.functions.price().call()
    limit = market.functions.borrowLimit(address, ltv, price).call()
    amount = limit - market.functions.debtOf(address).call()
    rec.remote(world.remote.send(market.functions.borrow(amount), who))
    return amount


# --- benign ---

def benign_traffic(world: BridgeWorld, relayer: Relayer | None = None, *, deposits: int = 4, withdrawals: int = 2,
                   delay_blocks: int = 3, price_moves_bps: tuple[int, ...] = (100, -150)) -> BridgeOutcome:
    """Traders bridge ALP to B and back through a slow but honest relayer (without `relayer`, a new one that waits
    `delay_blocks` source blocks per message), the source price moves and is relayed, and a trader borrows
    modestly against bridged collateral."""
    relayer = relayer or Relayer(world, delay_blocks=delay_blocks)
    rec = _Recorder(world, "benign-traffic", incident=False)
    traders = ["trader1", "trader2"]
    delivered: list[Delivery] = []
    for i in range(deposits):
        receipt, message = bridge_out(world, traders[i % 2], (i + 1) * 1_000 * E18)
        rec.home(receipt)
        rec.outcome.messages.append(message.id_hex)
    delivered += relay_until_idle(world, relayer)
    for i in range(withdrawals):
        receipt, message = bridge_back(world, traders[i % 2], 400 * E18)
        rec.remote(receipt)
        rec.outcome.messages.append(message.id_hex)
    delivered += relay_until_idle(world, relayer)
    rec.deliveries(delivered)

    feed = world.home.contract("ALP-USD-Feed")
    relays_before = len(relayer.price_relays)
    for move in price_moves_bps:
        answer = feed.functions.latestAnswer().call() * (BPS + move) // BPS
        rec.home(push_source_price(world, answer))
        relayer.step()

    market = world.remote.contract("BridgedCollateralMarket")
    rec.remote(world.remote.send(market.functions.depositCollateral(500 * E18), "trader1"))
    rec.remote(world.remote.send(market.functions.borrow(200 * E18), "trader1"))
    return rec.finish(deliveries=len(delivered), undelivered=relayer.pending_ids(),
                      lag_blocks=[d.lag_blocks for d in delivered],
                      price_relays=[r.source_round for r in relayer.price_relays[relays_before:]])


# --- attacks ---

def forged_mint(world: BridgeWorld, amount: int = 50_000 * E18) -> BridgeOutcome:
    """With the stolen relayer key, the attacker mints `amount` bALP for a lock that never happened on A."""
    rec = _Recorder(world, "forged-mint", incident=True)
    attacker = world.accounts.attacker
    message = forge_lock(world, attacker.address, amount, next_lock_nonce(world))
    minter = world.remote.contract("BridgeMinter")
    signature = message.sign(world.accounts.relayer)
    rec.remote(world.remote.send(minter.functions.mint(message.as_tuple(), signature), attacker))
    rec.outcome.messages.append(message.id_hex)
    return rec.finish(forged_nonce=message.nonce, amount=amount, recipient=attacker.address)


def replayed_message(world: BridgeWorld, relayer: Relayer | None = None, amount: int = 5_000 * E18) -> BridgeOutcome:
    """The attacker bridges `amount` honestly, then submits the delivered message again: to the current minter
    (rejected, and the failed transaction lands) and to the legacy V1 minter (accepted: a second mint)."""
    relayer = relayer or Relayer(world)
    rec = _Recorder(world, "replayed-message", incident=True)
    attacker = world.accounts.attacker
    receipt, message = bridge_out(world, "attacker", amount)
    rec.home(receipt)
    rec.outcome.messages.append(message.id_hex)
    rec.deliveries(relay_until_idle(world, relayer))
    delivery = next(d for d in relayer.deliveries if d.message == message)
    # The signature is public: it is in the calldata of the delivery transaction.
    signature = delivery.signature
    current = world.remote.contract("BridgeMinter")
    replay, current_error = _submit(world.remote, current.functions.mint(message.as_tuple(), signature), attacker)
    rec.remote(replay)
    legacy = world.remote.contract("BridgeMinterV1")
    second, legacy_error = _submit(world.remote, legacy.functions.mint(message.as_tuple(), signature), attacker)
    rec.remote(second)
    already = selector("AlreadyDelivered(bytes32)")
    return rec.finish(
        replayed_id=message.id_hex, delivery_tx=delivery.tx_hash, amount=amount,
        current_minter={"tx": replay["transactionHash"].to_0x_hex(), "accepted": replay["status"] == 1,
                        "error": "AlreadyDelivered" if current_error == already else current_error},
        legacy_minter={"tx": second["transactionHash"].to_0x_hex(), "accepted": second["status"] == 1,
                       "error": legacy_error})


def compromised_relayer(world: BridgeWorld, extra: int = 100_000 * E18) -> BridgeOutcome:
    """With the stolen relayer key, the attacker mints everything locked on A plus `extra`, in two messages; burns
    the escrow's worth and releases it on A with a signature of its own (the escrow is emptied), and borrows the
    market's dollars against the rest."""
    rec = _Recorder(world, "compromised-relayer", incident=True)
    attacker, key = world.accounts.attacker, world.accounts.relayer
    locked = world.escrowed()
    minter = world.remote.contract("BridgeMinter")
    first = next_lock_nonce(world)
    halves = [(locked + extra) // 2, (locked + extra) - (locked + extra) // 2]
    for offset, amount in enumerate(halves):
        message = forge_lock(world, attacker.address, amount, first + offset)
        rec.remote(world.remote.send(minter.functions.mint(message.as_tuple(), message.sign(key)), attacker))
        rec.outcome.messages.append(message.id_hex)
    minted = sum(halves)
    released = 0
    if locked:
        receipt, burn = bridge_back(world, "attacker", locked)
        rec.remote(receipt)
        rec.outcome.messages.append(burn.id_hex)
        escrow = world.home.contract("BridgeEscrow")
        rec.home(world.home.send(escrow.functions.release(burn.as_tuple(), burn.sign(key)), attacker))
        released = locked
    borrowed = _borrow_max(world, "attacker", minted - released, rec)
    return rec.finish(forged_minted=minted, released_from_escrow=released, borrowed=borrowed)


def stuck_relayer(world: BridgeWorld, relayer: Relayer, *, deposits: int = 2, blocks: int = 20,
                  price_move_bps: int = 500) -> BridgeOutcome:
    """The relayer keeps running but delivers nothing: traders lock ALP on A, the source price moves, `blocks`
    blocks pass on both chains. The relayer is left halted (`relayer.resume()` lets it catch up)."""
    rec = _Recorder(world, "stuck-relayer", incident=True)
    relayer.halt()
    for i in range(deposits):
        receipt, message = bridge_out(world, ["trader1", "trader2"][i % 2], 2_000 * E18)
        rec.home(receipt)
        rec.outcome.messages.append(message.id_hex)
    feed = world.home.contract("ALP-USD-Feed")
    rec.home(push_source_price(world, feed.functions.latestAnswer().call() * (BPS + price_move_bps) // BPS))
    for _ in range(blocks):
        mine(world.home)
        mine(world.remote)
        relayer.step()
    relayed, minter = world.remote.contract("ALP-USD-Relayed"), world.remote.contract("BridgeMinter")
    undelivered = [m for m in rec.outcome.messages if not minter.functions.delivered(bytes.fromhex(m[2:])).call()]
    return rec.finish(undelivered=undelivered, blocks=blocks,
                      source_price=feed.functions.latestAnswer().call(),
                      relayed_price=relayed.functions.latestAnswer().call())


def diverging_price(world: BridgeWorld, relayer: Relayer | None = None, *, inflate_bps: int = 5_000,
                    collateral: int = 10_000 * E18) -> BridgeOutcome:
    """The attacker bridges `collateral` ALP honestly; the source price ticks; the compromised relayer key relays
    that round to B `inflate_bps` above the truth, and the attacker borrows the most the false price allows."""
    relayer = relayer or Relayer(world)
    rec = _Recorder(world, "diverging-price", incident=True)
    receipt, message = bridge_out(world, "attacker", collateral)
    rec.home(receipt)
    rec.outcome.messages.append(message.id_hex)
    rec.deliveries(relay_until_idle(world, relayer))

    feed = world.home.contract("ALP-USD-Feed")
    rec.home(push_source_price(world, feed.functions.latestAnswer().call() * 1_001 // 1_000))
    round_id, source_price, _, updated_at, _ = feed.functions.latestRoundData().call()
    false_price = source_price * (BPS + inflate_bps) // BPS
    relayed = world.remote.contract("ALP-USD-Relayed")
    rec.remote(world.remote.send(relayed.functions.relay(round_id, false_price, updated_at), world.accounts.relayer))
    market = world.remote.contract("BridgedCollateralMarket")
    honest_limit = collateral * source_price // 10**8 * market.functions.loanToValueBps().call() // BPS
    borrowed = _borrow_max(world, "attacker", collateral, rec)
    return rec.finish(source_round=round_id, source_price=source_price, relayed_price=false_price,
                      divergence_bps=(false_price - source_price) * BPS // source_price,
                      borrowed=borrowed, honest_limit=honest_limit)
