"""The bridge relayer: carries messages between the escrow on A and the minter on B, and copies A's feed rounds to B.

It delivers a message once `delay_blocks` blocks were mined on top of it on its source chain (a slow but honest
relayer has a large delay), signs each delivery with its key (the endpoints check the signature), and never delivers
a message twice (it asks the destination first). Drive it step by step with `step()`, or in a thread with
`start()` / `stop()`; `halt()` makes it a stuck relayer that still runs and sees messages but delivers nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from web3 import Web3
from web3.contract import Contract

from watchdog.devnet.accounts import DevAccount
from watchdog.devnet.bridge.messages import Message
from watchdog.devnet.bridge.world import BridgeWorld
from watchdog.devnet.txs import connect, send
from watchdog.errors import RpcError


@dataclass
class PendingMessage:
    """A message seen on its source chain and not delivered yet."""

    message: Message
    source: str  # "home" or "remote": the chain it was sent on
    source_block: int
    source_tx: str


@dataclass
class Delivery:
    """A message delivered by this relayer: where it came from and how many source blocks it waited."""

    message: Message
    source: str
    source_block: int
    source_tx: str
    tx_hash: str
    signature: bytes
    lag_blocks: int  # source-chain blocks between the message and its delivery


@dataclass
class PriceRelay:
    source_round: int
    answer: int
    updated_at: int
    tx_hash: str


@dataclass
class _Route:
    """One direction: the endpoint that sends on `source`, the one that receives on the other chain."""

    source: str
    sender: Contract  # bound to the relayer's own connection
    receiver: Contract
    deliver: str  # the receiver's function: "mint" or "release"
    source_w3: Web3
    destination_w3: Web3
    destination_chain_id: int
    next_block: int


class Relayer:
    """The bridge's relayer for a `BridgeWorld` (see the module doc). `signer` defaults to the relayer's key."""

    def __init__(self, world: BridgeWorld, *, delay_blocks: int = 0, relay_prices: bool = True,
                 poll_interval: float = 0.2, signer: DevAccount | None = None) -> None:
        if delay_blocks < 0:
            raise ValueError(f"delay_blocks must be 0 or more, not {delay_blocks}")
        self.world = world
        self.delay_blocks = delay_blocks
        self.relay_prices = relay_prices
        self.poll_interval = poll_interval
        self.signer = signer or world.accounts.relayer
        self.pending: list[PendingMessage] = []
        self.deliveries: list[Delivery] = []
        self.price_relays: list[PriceRelay] = []
        self.errors: list[str] = []  # deliveries that failed (e.g. a paused endpoint); retried on the next step
        self.halted = False
        # Its own connections, signing only with its key: it may run in a thread beside the scenario's traffic.
        home_w3 = connect(world.home.rpc_url, [self.signer])
        self._remote_w3 = remote_w3 = connect(world.remote.rpc_url, [self.signer])
        escrow = world.home.contract("BridgeEscrow", home_w3)
        minter = world.remote.contract("BridgeMinter", remote_w3)
        self._routes = [
            _Route("home", escrow, minter, "mint", home_w3, remote_w3, world.remote_chain_id,
                   world.home.manifest.block),
            _Route("remote", minter, escrow, "release", remote_w3, home_w3, world.home_chain_id,
                   world.remote.manifest.block),
        ]
        self._source_feed = world.home.contract("ALP-USD-Feed", home_w3)
        self._relayed_feed = world.remote.contract("ALP-USD-Relayed", remote_w3)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- control ---
    def halt(self) -> None:
        """Stop delivering and relaying prices (it still sees new messages): a stuck relayer."""
        self.halted = True

    def resume(self) -> None:
        self.halted = False

    def start(self) -> "Relayer":
        """Run `step()` every `poll_interval` seconds in a background thread until `stop()`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="bridge-relayer", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout=30)

    def __enter__(self) -> "Relayer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # a node hiccup must not kill the relayer: note it and poll again
                self.errors.append(f"step failed: {exc}")
            self._stop.wait(self.poll_interval)

    # --- work ---
    def step(self) -> list[Delivery]:
        """One pass: pick up new messages on both chains, deliver the ripe ones, relay a new feed round."""
        with self._lock:
            for route in self._routes:
                self._scan(route)
            if self.halted:
                return []
            delivered: list[Delivery] = []
            for route in self._routes:
                delivered += self._deliver_ripe(route)
            if self.relay_prices:
                self._relay_price()
            return delivered

    def pending_ids(self) -> list[str]:
        with self._lock:
            return [p.message.id_hex for p in self.pending]

    def _scan(self, route: _Route) -> None:
        head = route.source_w3.eth.block_number
        if head < route.next_block:
            return
        source_chain_id = route.source_w3.eth.chain_id
        for log in route.sender.events.MessageSent.get_logs(from_block=route.next_block, to_block=head):
            args = log["args"]
            if args["destinationChainId"] != route.destination_chain_id:
                continue  # a route this relayer does not serve
            destination = route.sender.functions.remotes(args["destinationChainId"]).call(
                block_identifier=log["blockNumber"])
            message = Message(source_chain_id, route.sender.address, args["destinationChainId"], destination,
                              args["nonce"], args["sender"], args["recipient"], args["amount"])
            if message.id != bytes(args["id"]):
                raise RpcError(f"message {args['id'].hex()} on {route.source} does not match its fields: "
                               "the relayer and the endpoint disagree on the message format")
            self.pending.append(PendingMessage(message, route.source, log["blockNumber"],
                                               log["transactionHash"].to_0x_hex()))
        route.next_block = head + 1

    def _deliver_ripe(self, route: _Route) -> list[Delivery]:
        head = route.source_w3.eth.block_number
        done: list[Delivery] = []
        for item in [p for p in self.pending if p.source == route.source]:
            if head - item.source_block < self.delay_blocks:
                continue
            if route.receiver.functions.delivered(item.message.id).call():
                self.pending.remove(item)  # someone else delivered it
                continue
            signature = item.message.sign(self.signer)
            call = getattr(route.receiver.functions, route.deliver)(item.message.as_tuple(), signature)
            try:
                receipt = send(route.destination_w3, call, self.signer)
            except RpcError as exc:
                self.errors.append(f"{route.deliver} {item.message.id_hex}: {exc}")
                continue
            self.pending.remove(item)
            delivery = Delivery(item.message, item.source, item.source_block, item.source_tx,
                                receipt["transactionHash"].to_0x_hex(), signature, head - item.source_block)
            self.deliveries.append(delivery)
            done.append(delivery)
        return done

    def _relay_price(self) -> PriceRelay | None:
        round_id, answer, _, updated_at, _ = self._source_feed.functions.latestRoundData().call()
        relayed = self._relayed_feed.functions
        last_source_round, _ = relayed.sourceOf(relayed.latestRound().call()).call()
        if round_id <= last_source_round:
            return None
        try:
            receipt = send(self._remote_w3, relayed.relay(round_id, answer, updated_at), self.signer)
        except RpcError as exc:
            self.errors.append(f"relay of round {round_id}: {exc}")
            return None
        relay = PriceRelay(round_id, answer, updated_at, receipt["transactionHash"].to_0x_hex())
        self.price_relays.append(relay)
        return relay


