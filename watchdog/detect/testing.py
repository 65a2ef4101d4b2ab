"""A test kit for rules, with no node: a chain whose answers you program, builders of blocks, transactions, logs
and call frames, a registry from a small manifest, and `RuleKit`, which runs one rule through the real engine
(its checks, parameters and false-positive controls) and keeps the rule's state in memory across runs.

    from watchdog.detect.testing import RuleKit, address, block, ids, tick

    FEED = address(1)
    kit = RuleKit(OracleHealth, {"contracts": [{"name": "EthFeed", "address": FEED, "role": "oracle_feed"}]})
    kit.chain.feed(FEED, answer=0, updated_at=1_000)
    assert ids(kit.run(tick(block(10, timestamp=1_100)))) == ["oracle-health.non-positive"]

Answers are programmed per block: one given `block=N` holds from block N on (until a later one), one given
without a block holds before every numbered one; "latest" is the last block the kit ran (`chain.head`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from eth_abi import encode
from eth_utils import keccak
from prometheus_client import CollectorRegistry

from watchdog.chain.events import Block, BlockBundle, CallFrame, Log, PendingTx, Tx
from watchdog.detect.abi import EventSpec, encode_call, parse_call
from watchdog.detect.engine import Engine
from watchdog.detect.registry import ProtocolRegistry
from watchdog.detect.rule import Rule
from watchdog.finding import Finding
from watchdog.manifest import Manifest

GENESIS_TIME = 1_700_000_000
BLOCK_TIME = 12
ROUND = "latestRoundData()(uint80,int256,uint256,uint256,uint80)"
_MISSING = object()
_REVERT = object()
_numbers = itertools.count(1)
_built: dict[str, list[EventSpec]] = {}  # topic0 -> events `log()` decoded, as a manifest ABI would


def address(n: int) -> str:
    """A distinct, readable address: address(1) == 0x000...0001."""
    return f"0x{n:040x}"


def _hash(*parts: Any) -> str:
    return "0x" + keccak(text=repr(parts)).hex()


# -- the chain ---------------------------------------------------------------------------------------
class FakeChain:
    """A ChainReader (watchdog.chain.events) whose answers are programmed: eth_call results by (address,
    signature, arguments, block), balances, storage, code, transactions with their receipts and traces."""

    def __init__(self, network: str = "testnet") -> None:
        self.network = network
        self.head: Block | None = None
        self._answers: dict[tuple[Any, ...], dict[int | None, Any]] = {}
        self._txs: dict[str, Tx] = {}
        self._logs: dict[str, list[Log]] = {}
        self._traces: dict[str, CallFrame | None] = {}
        self._receipts: dict[str, dict[str, Any]] = {}

    # -- programming -----------------------------------------------------------------------------------
    def _set(self, key: tuple[Any, ...], value: Any, block: int | None) -> None:
        self._answers.setdefault(key, {})[block] = value

    def on_call(self, to: str, signature: str, args: Iterable[Any] = (), *, returns: Any = None,
                raw: str | None = None, reverts: bool = False, block: int | None = None) -> None:
        """eth_call of `signature` (`balanceOf(address)(uint256)`) with `args` on `to` answers `returns` (one value
        or a tuple, encoded with the signature's return types), or `raw` hex, or reverts."""
        _, _, ret_types = parse_call(signature)
        if reverts:
            answer: Any = _REVERT
        elif raw is not None:
            answer = raw
        else:
            answer = _encode_returns(ret_types, returns)
        self._set(("call", to.lower(), encode_call(signature, tuple(args))), answer, block)

    def set_balance(self, holder: str, wei: int, block: int | None = None) -> None:
        self._set(("balance", holder.lower()), wei, block)

    def set_storage(self, holder: str, slot: int, value: int, block: int | None = None) -> None:
        self._set(("storage", holder.lower(), slot), value, block)

    def set_code(self, holder: str, code: str, block: int | None = None) -> None:
        self._set(("code", holder.lower()), code, block)

    def add_tx(self, tx: Tx, logs: Iterable[Log] = (), trace: CallFrame | None = None,
               contract_address: str | None = None) -> None:
        """A transaction the chain knows, with its logs (its receipt) and its call trace."""
        known = self._receipts.get(tx.hash, {})  # what an earlier call said is kept unless given again
        self._txs[tx.hash] = tx
        self._logs[tx.hash] = list(logs)
        if trace is not None or tx.hash not in self._traces:
            self._traces[tx.hash] = trace
        self._receipts[tx.hash] = {
            "transactionHash": tx.hash, "status": hex(1 if tx.status is None else tx.status),
            "contractAddress": contract_address or known.get("contractAddress"),
            "blockNumber": hex(tx.block_number) if tx.block_number is not None else None}

    # -- common contracts ------------------------------------------------------------------------------
    def token(self, token: str, *, decimals: int = 18, balances: Mapping[str, int] | None = None,
              block: int | None = None) -> None:
        """An ERC-20: decimals() and balanceOf(holder) (the holders given; others revert)."""
        self.on_call(token, "decimals()(uint8)", returns=decimals)
        for holder, amount in (balances or {}).items():
            self.on_call(token, "balanceOf(address)(uint256)", [holder], returns=amount, block=block)

    def pool(self, pool: str, token0: str, token1: str, reserves: tuple[int, int] | None = None,
             block: int | None = None) -> None:
        """A Uniswap V2 style pair: token0(), token1() and getReserves()."""
        self.on_call(pool, "token0()(address)", returns=token0)
        self.on_call(pool, "token1()(address)", returns=token1)
        if reserves is not None:
            self.on_call(pool, "getReserves()(uint112,uint112,uint32)", returns=(*reserves, 0), block=block)

    def feed(self, feed: str, answer: int, updated_at: int, *, round_id: int = 1, answered_in_round: int | None = None,
             decimals: int = 8, block: int | None = None) -> None:
        """A Chainlink-style feed: latestRoundData() and decimals()."""
        self.on_call(feed, "decimals()(uint8)", returns=decimals)
        self.on_call(feed, ROUND, returns=(round_id, answer, updated_at, updated_at,
                                           round_id if answered_in_round is None else answered_in_round), block=block)

    # -- ChainReader -----------------------------------------------------------------------------------
    def _get(self, key: tuple[Any, ...], block: int | str) -> Any:
        answers = self._answers.get(key, {})
        number = (self.head.number if self.head else None) if isinstance(block, str) else block
        numbered = [n for n in answers if n is not None and (number is None or n <= number)]
        if numbered:
            return answers[max(numbered)]
        return answers.get(None, _MISSING)

    def call(self, to: str, data: str, block: int | str = "latest") -> str:
        answer = self._get(("call", to.lower(), data), block)
        if answer is _MISSING or answer is _REVERT:
            raise LookupError(f"eth_call {data[:10]} on {to} at {block}: " + ("reverted" if answer is _REVERT else
                              "no answer programmed (FakeChain.on_call)"))
        return answer

    def balance(self, holder: str, block: int | str = "latest") -> int:
        answer = self._get(("balance", holder.lower()), block)
        return 0 if answer is _MISSING else answer

    def storage_at(self, holder: str, slot: int, block: int | str = "latest") -> str:
        answer = self._get(("storage", holder.lower(), slot), block)
        return f"0x{0 if answer is _MISSING else answer:064x}"

    def code(self, holder: str, block: int | str = "latest") -> str:
        answer = self._get(("code", holder.lower()), block)
        return "0x" if answer is _MISSING else answer

    def transaction(self, tx_hash: str) -> Tx:
        if tx_hash not in self._txs:
            raise LookupError(f"transaction {tx_hash} is unknown: add it with FakeChain.add_tx")
        return self._txs[tx_hash]

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        receipt = dict(self._receipts.get(tx_hash) or {})
        receipt["logs"] = [_raw_log(entry) for entry in self._logs.get(tx_hash, [])]
        return receipt

    def trace(self, tx_hash: str) -> CallFrame | None:
        return self._traces.get(tx_hash)

    def latest_block(self) -> Block | None:
        return self.head

    def block_at(self, number: int) -> Block | None:
        """The head when it has that number, else the kit's block `number` (12 s a block)."""
        return self.head if self.head is not None and self.head.number == number else block(number)

    def logs(self, addresses: list[str], topics: list[Any], from_block: int, to_block: int | str = "latest") -> list[Log]:
        """eth_getLogs over the logs of the transactions the chain knows (`add_tx`, with a block number)."""
        last = (self.head.number if self.head else 1 << 62) if isinstance(to_block, str) else to_block
        wanted = {a.lower() for a in addresses}
        return [entry for entries in self._logs.values() for entry in entries
                if entry.address in wanted and entry.block_number is not None
                and from_block <= entry.block_number <= last and _topics_match(entry.topics, topics)]


def _topics_match(topics: tuple[str, ...], wanted: list[Any]) -> bool:
    """An eth_getLogs topic filter: per position None (any), one topic, or a list of alternatives."""
    for n, want in enumerate(wanted):
        if want is None:
            continue
        if n >= len(topics) or topics[n] not in ([want] if isinstance(want, str) else want):
            return False
    return True


def _encode_returns(types: tuple[str, ...], returns: Any) -> str:
    """One value, or a tuple of values for several return types, ABI-encoded."""
    values = returns if isinstance(returns, (tuple, list)) and len(types) > 1 else (returns,)
    return "0x" + encode(list(types), list(values)).hex()


def _raw_log(entry: Log) -> dict[str, Any]:
    return {"address": entry.address, "topics": list(entry.topics), "data": entry.data,
            "blockNumber": hex(entry.block_number) if entry.block_number is not None else None,
            "blockHash": entry.block_hash, "transactionHash": entry.tx_hash,
            "transactionIndex": hex(entry.tx_index), "logIndex": hex(entry.log_index)}


# -- builders ----------------------------------------------------------------------------------------
def block(number: int = 1, *, timestamp: int | None = None, hash: str | None = None, parent_hash: str | None = None,
          base_fee: int | None = None) -> Block:
    """A block; its hash, parent hash and time (12 s a block) follow from its number unless given."""
    return Block(number=number, hash=hash or _hash("block", number), parent_hash=parent_hash or _hash("block", number - 1),
                 timestamp=GENESIS_TIME + BLOCK_TIME * number if timestamp is None else timestamp, base_fee=base_fee)


@dataclass(frozen=True, slots=True)
class Tick:
    """A scheduled run at `block` (its timestamp is the chain time the rule sees)."""

    block: Block


def tick(at: Block | int) -> Tick:
    return Tick(at if isinstance(at, Block) else block(at))


def calldata(signature: str, *args: Any) -> str:
    """Calldata of `signature` (`transfer(address,uint256)`) with `args`."""
    return encode_call(signature, args)


def tx(sender: str, to: str | None, data: str = "0x", *, value: int = 0, hash: str | None = None,
       index: int | None = None, block: int | None = None, nonce: int = 0, status: int | None = 1,
       max_priority_fee: int | None = None) -> Tx:
    """A transaction (`to=None` creates a contract); `data` from `calldata(...)`. Its block and index are set
    by the kit when it runs it, unless given."""
    return Tx(hash=hash or _hash("tx", next(_numbers)), sender=sender.lower(), to=to.lower() if to else None,
              input=data, value=value, block_number=block, index=index, nonce=nonce, gas=1_000_000,
              max_priority_fee=max_priority_fee, status=status)


def log(emitter: str, event: str, *args: Any, of: Tx | None = None, decoded: bool = True, **named: Any) -> Log:
    """A log of `event` (`Transfer(address indexed from, address indexed to, uint256 value)`) emitted by `emitter`,
    arguments by position or by name, in transaction `of` (the kit fills it in when it runs a single tx).
    `decoded`: as the manifest ABIs would decode it (event name and args); False for an emitter no ABI knows."""
    spec = EventSpec.parse(event)
    values = list(args) + [named[name] for name, _, _ in spec.inputs[len(args):]]
    if len(values) != len(spec.inputs):
        raise ValueError(f"{event}: {len(spec.inputs)} arguments expected, {len(values)} given")
    topics = [spec.topic0]
    plain_types, plain_values = [], []
    for (_, kind, indexed), value in zip(spec.inputs, values):
        if indexed:
            topics.append("0x" + encode([kind], [value]).hex())
        else:
            plain_types.append(kind)
            plain_values.append(value)
    entry = Log(address=emitter.lower(), topics=tuple(topics), data="0x" + encode(plain_types, plain_values).hex(),
                block_number=of.block_number if of else None, block_hash=None, tx_hash=of.hash if of else "",
                tx_index=(of.index or 0) if of else 0, log_index=0)
    if decoded:
        _built.setdefault(spec.topic0, [])
        if spec not in _built[spec.topic0]:
            _built[spec.topic0].append(spec)
        entry.event, entry.args = spec.name, spec.decode(entry)
    return entry


def frame(sender: str, to: str | None, signature: str | None = None, *args: Any, returns: Any = None,
          output: str | None = None, value: int = 0, type: str = "CALL", error: str | None = None,
          calls: Iterable[CallFrame] = (), input: str | None = None) -> CallFrame:
    """A call frame of a trace: `signature` with `args` (`price()(uint256)`; `returns` is encoded with its return
    types), or raw `input`/`output`; nested `calls`; `error` for a reverted frame."""
    if signature is not None:
        fn, _, ret_types = parse_call(signature)
        input = input or encode_call(fn, args)
        if returns is not None and output is None:
            output = _encode_returns(ret_types, returns)
    return CallFrame(type=type, sender=sender.lower(), to=to.lower() if to else None, input=input or "0x",
                     output=output, value=value, error=error, calls=list(calls))


def pending(transaction: Tx, trace: CallFrame | None = None, logs: Iterable[Log] = ()) -> PendingTx:
    """A pending transaction as the mempool follower hands it over: simulated trace and logs."""
    own = [replace(entry, tx_hash=transaction.hash, tx_index=0, log_index=n, block_number=None)
           for n, entry in enumerate(logs)]
    return PendingTx(tx=replace(transaction, block_number=None, index=None), trace=trace, logs=own)


def registry(manifest: Mapping[str, Any]) -> ProtocolRegistry:
    """The registry of a small manifest: `{"contracts": [{"name", "address", "role", ...hints}], "safe": ...}`
    (chain_id, block and ABIs may be left out)."""
    raw = {"chain_id": 1, **manifest}
    raw["contracts"] = [{"abi": [], **entry} for entry in manifest.get("contracts", [])]
    return ProtocolRegistry(Manifest.model_validate(raw))


def ids(findings: Iterable[Finding]) -> list[str]:
    """The rule ids of `findings`, in order (`drain.tx`, ...)."""
    return [f.rule_id for f in findings]


# -- running a rule ----------------------------------------------------------------------------------
class RuleKit:
    """One rule, run the way the engine runs it, on a programmable chain. `params` is its `[rules.<id>]` table,
    `checks` maps a check to its `[rules."<id>.<check>"]` table; `remotes` are the chains of other networks by
    RPC URL, `chains` those the daemon follows by chain id (`ctx.chain(chain_id)`; the chain's `network` is its URL).
    Rule state and cooldowns stay in memory from one `run` to the next."""

    def __init__(self, rule: type[Rule], manifest: Mapping[str, Any] | None = None, *,
                 params: Mapping[str, Any] | None = None, checks: Mapping[str, Mapping[str, Any]] | None = None,
                 chain: FakeChain | None = None, remotes: Mapping[str, FakeChain] | None = None,
                 chains: Mapping[int, FakeChain] | None = None, allowlist: Iterable[str] = (),
                 network: str = "testnet") -> None:
        self.chain = chain or FakeChain(network)
        self.remotes = dict(remotes or {})
        self.remotes.update({other.network: other for other in (chains or {}).values()})
        self.registry = registry(manifest or {"contracts": []})
        settings: dict[str, Any] = {rule.id: dict(params or {})}
        settings.update({f"{rule.id}.{check}": dict(table) for check, table in (checks or {}).items()})
        self.engine = Engine(network, self.registry, None, rules=settings, allowlist=allowlist, builtin=False,
                             metrics_registry=CollectorRegistry(), rule_classes=[rule], remote=self._remote,
                             chains={chain_id: other.network for chain_id, other in (chains or {}).items()})

    def _remote(self, url: str) -> FakeChain:
        return self.remotes.setdefault(url, FakeChain(url))

    def run(self, event: Block | Tx | PendingTx | Tick, *, txs: Iterable[Tx] = (), logs: Iterable[Log] = (),
            trace: CallFrame | None = None, traces: Mapping[str, CallFrame] | None = None) -> list[Finding]:
        """The rule's findings on `event`:
        - a Block with its `txs`, their `logs` (in the order they were emitted) and `traces` by tx hash;
        - a mined Tx with its `logs` and `trace` (run as a block of its own, block handlers included);
        - a PendingTx (see `pending`);
        - a Tick: a scheduled run at its block."""
        if isinstance(event, Tick):
            self.chain.head = event.block
            return self.engine.on_schedule(self.chain, event.block)
        if isinstance(event, PendingTx):
            return self.engine.on_pending(event, self.chain)
        if isinstance(event, Tx):
            number = event.block_number or (self.chain.head.number + 1 if self.chain.head else 1)
            txs, traces = [event], {event.hash: trace} if trace is not None else traces
            event = block(number)
        return self._block(event, list(txs), list(logs), dict(traces or {}))

    def _block(self, at: Block, txs: list[Tx], logs: list[Log], traces: dict[str, CallFrame]) -> list[Finding]:
        placed = [replace(t, block_number=at.number, index=n if t.index is None else t.index) for n, t in enumerate(txs)]
        by_hash = {t.hash: t for t in placed}
        only = placed[0] if len(placed) == 1 else None
        entries = []
        for n, entry in enumerate(logs):
            owner = by_hash.get(entry.tx_hash) or only
            if owner is None:
                raise ValueError(f"log {n} names no transaction of the block: build it with log(..., of=tx)")
            entries.append(replace(entry, tx_hash=owner.hash, tx_index=owner.index, block_number=at.number,
                                   block_hash=at.hash, log_index=n))
        for t in placed:
            self.chain.add_tx(t, [e for e in entries if e.tx_hash == t.hash], traces.get(t.hash))
        for entry in entries:
            if entry.event is not None:  # decoded by `log()`: the receipt's copy is decoded the same way
                for spec in _built.get(entry.topics[0], ()):
                    self.registry.decoder.add(spec)
        self.chain.head = at
        # what the follower hands over: logs of watched emitters and of the topics the rules ask for
        watched = self.engine.watched_topics()
        bundle_logs = [e for e in entries if self.registry.get(e.address) or (e.topics and e.topics[0] in watched)]
        return self.engine.on_block(BlockBundle(self.chain.network, at, bundle_logs, by_hash, self.chain))

