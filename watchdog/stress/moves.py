"""Moving the market on a fork: a push feed set to a new answer (its code replaced by a table of canned answers, so any
feed, proxy or aggregator, answers what the scenario says), a Uniswap V2 style pool moved by a real swap through its
own `swap()`, derived sources (TWAPs) updated while time passes, and a contract paused through its manifest's pause
path, sent by whoever the chain says may pause it."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from watchdog.chain.abi import selector, topic
from watchdog.chain.rpc import RpcAnswerError
from watchdog.detect.model import ProtocolModel, Source
from watchdog.manifest import ContractEntry, Manifest
from watchdog.recovery.replay import is_done
from watchdog.respond.plan import pause_plans
from watchdog.stress.fork import Fork, actor

MOVER = actor("mover")
FEE_NUMERATOR, FEE_DENOMINATOR = 997, 1000  # Uniswap V2's 0.3% fee
ROUND = "latestRoundData()(uint80,int256,uint256,uint256,uint80)"
# What a feed is asked: each is answered from the table (getRoundData with any round answers the latest one).
FEED_READS = {"latestRoundData()": (), "latestAnswer()": (), "latestTimestamp()": (), "latestRound()": (),
              "decimals()": (), "description()": (), "version()": (), "aggregator()": (), "phaseId()": ()}
TABLE = int.from_bytes(keccak(text="watchdog.stress.answers"), "big")
# Runtime code answering any call from storage: n = sload(TABLE ^ selector); return the n words stored after it
# (revert when n is 0). Assembly, by offset: 00 calldataload(0) >> 224; 06 push32 TABLE; 27 xor; 28 dup sload;
# 2a if iszero(n) jump 56; 30 i = 0; 32 loop: if !(i < n) jump 4e; 3b mstore(i*32, sload(base + 1 + i)); 47 i++;
# 4a jump 32; 4e return(0, n*32); 56 revert(0, 0).
ANSWERS_CODE = ("0x600035" "60e01c" "7f" + TABLE.to_bytes(32, "big").hex() + "18" "8054" "8015" "610056" "57" "6000"
                "5b" "8181" "1015" "61004e" "57" "8083" "01" "600101" "54" "81" "60051b" "52" "600101" "610032" "56"
                "5b" "50" "60051b" "6000" "f3" "5b" "600080" "fd")
ROLE_GRANTED = topic("RoleGranted(bytes32,address,address)")


# -- feeds ---------------------------------------------------------------------------------------------------
def feed_answer(fork: Fork, feed: str) -> tuple[int, int, int] | None:
    """(round id, answer, updatedAt) of a feed now, None when it does not answer latestRoundData."""
    out = fork.read(feed, ROUND)
    return (int(out[0]), int(out[1]), int(out[3])) if out else None


def set_feed(fork: Fork, feed: str, answer: int, updated_at: int) -> None:
    """From now on `feed` answers `answer` (raw, in its decimals) updated at `updated_at`, as a new round."""
    if fork.storage(feed, TABLE ^ int(selector("latestRoundData()"), 16)) == 0:
        _install(fork, feed)
    round_id = (feed_answer(fork, feed) or (0, 0, 0))[0] + 1
    words = [round_id, answer, updated_at, updated_at, round_id]
    _store(fork, feed, "latestRoundData()", words)
    _store(fork, feed, "getRoundData(uint80)", words)
    _store(fork, feed, "latestAnswer()", [answer])
    _store(fork, feed, "latestTimestamp()", [updated_at])
    _store(fork, feed, "latestRound()", [round_id])


def _install(fork: Fork, feed: str) -> None:
    """Keep what the feed answers now in the table, then replace its code by the table's reader."""
    for signature in FEED_READS:
        raw = fork.raw_call(feed, selector(signature))
        if isinstance(raw, str) and raw not in ("", "0x"):
            _store(fork, feed, signature, [int(raw[2 + 64 * i:2 + 64 * (i + 1)], 16) for i in range((len(raw) - 2) // 64)])
    fork.set_code(feed, ANSWERS_CODE)


def _store(fork: Fork, feed: str, signature: str, words: list[int]) -> None:
    base = TABLE ^ int(selector(signature), 16)
    fork.set_storage(feed, base, len(words))
    for i, word in enumerate(words):
        fork.set_storage(feed, base + 1 + i, word)


# -- pools ---------------------------------------------------------------------------------------------------
def pool_price(fork: Fork, pair: str, base: str) -> float | None:
    state = _pool(fork, pair, base)
    return None if state is None else _price(*state[:4])


def move_pool(fork: Fork, pair: str, base: str, target: float) -> float | None:
    """Swap through `pair` until its price of `base` is `target` (in the other token); the price reached."""
    state = _pool(fork, pair, base)
    if state is None:
        return None
    x, y, base_decimals, quote_decimals, base_is_0, quote = state
    if _price(x, y, base_decimals, quote_decimals) > target:  # sell the base asset into the pool
        amount = _solve(lambda a: _price(x + a, y - _out(a, x, y), base_decimals, quote_decimals) <= target, x)
        token_in, out = base, _out(amount, x, y)
        outs = (0, out) if base_is_0 else (out, 0)
    else:  # buy it with the other token
        amount = _solve(lambda a: _price(x - _out(a, y, x), y + a, base_decimals, quote_decimals) >= target, y)
        token_in, out = quote, _out(amount, y, x)
        outs = (out, 0) if base_is_0 else (0, out)
    if amount and out:
        swap(fork, pair, token_in, amount, outs)
    return pool_price(fork, pair, base)


def swap(fork: Fork, pair: str, token_in: str, amount: int, outs: tuple[int, int], trader: str = MOVER) -> None:
    """A real swap: `amount` of `token_in` sent to the pair, then `swap(out0, out1, trader, "")`."""
    if trader == MOVER:
        fork.deal(token_in, trader, amount)
    sent = fork.send(trader, token_in, "transfer(address,uint256)", (pair, amount))
    if sent.ok:
        sent = fork.send(trader, pair, "swap(uint256,uint256,address,bytes)", (outs[0], outs[1], trader, b""))
    if not sent.ok:
        raise RuntimeError(f"swap through {pair} failed on the fork: {sent.error}")


def sell(fork: Fork, pair: str, token_in: str, amount: int, trader: str) -> int:
    """Sell `amount` of `token_in` held by `trader` through `pair`; what it received of the other token."""
    tokens = _tokens(fork, pair)
    reserves = fork.read(pair, "getReserves()(uint112,uint112,uint32)")
    if tokens is None or reserves is None or token_in not in tokens:
        return 0
    zero_in = token_in == tokens[0]
    r_in, r_out = (reserves[0], reserves[1]) if zero_in else (reserves[1], reserves[0])
    out = _out(amount, r_in, r_out)
    if out:
        swap(fork, pair, token_in, amount, (0, out) if zero_in else (out, 0), trader)
    return out


def absorbable(fork: Fork, pair: str, base: str, slippage: float) -> float:
    """How much of `base` the pool takes before its price falls by `slippage` (whole tokens, the fee counted)."""
    state = _pool(fork, pair, base)
    if state is None:
        return 0.0
    x = state[0]
    # the price after selling a is about p * (x / (x + 0.997a))^2: solve for a fall of `slippage`
    amount = x * ((1 - slippage) ** -0.5 - 1) * FEE_DENOMINATOR / FEE_NUMERATOR
    return amount / 10 ** state[2]


def _tokens(fork: Fork, pair: str) -> tuple[str, str] | None:
    t0, t1 = fork.read(pair, "token0()(address)"), fork.read(pair, "token1()(address)")
    return (t0[0], t1[0]) if t0 and t1 else None


def _pool(fork: Fork, pair: str, base: str) -> tuple[int, int, int, int, bool, str] | None:
    """(base reserve, other reserve, base decimals, other decimals, base is token0, other token)."""
    tokens = _tokens(fork, pair)
    reserves = fork.read(pair, "getReserves()(uint112,uint112,uint32)")
    if tokens is None or reserves is None or base not in tokens or 0 in reserves[:2]:
        return None
    base_is_0 = tokens[0] == base
    other = tokens[1] if base_is_0 else tokens[0]
    x, y = (reserves[0], reserves[1]) if base_is_0 else (reserves[1], reserves[0])
    return x, y, fork.decimals(base), fork.decimals(other), base_is_0, other


def _price(x: int, y: int, base_decimals: int, quote_decimals: int) -> float:
    return (y / 10**quote_decimals) / (x / 10**base_decimals)


def _out(amount: int, reserve_in: int, reserve_out: int) -> int:
    with_fee = amount * FEE_NUMERATOR
    return with_fee * reserve_out // (reserve_in * FEE_DENOMINATOR + with_fee)


def _solve(reached: Any, start: int) -> int:
    """The smallest amount for which `reached(amount)` holds (it holds for every larger one)."""
    high = max(start, 1)
    while not reached(high):
        high *= 2
        if high > 2**200:
            return 0
    low = 0
    while high - low > 1:
        middle = (low + high) // 2
        if reached(middle):
            high = middle
        else:
            low = middle
    return high


# -- a source, whatever its kind -----------------------------------------------------------------------------
def set_source(fork: Fork, source: Source, price: float, now: int) -> float | None:
    """Put `source` at `price` of its asset (a feed's answer is set, a pool is swapped); the price it then gives."""
    if source.kind == "feed":
        out = fork.read(source.address, "decimals()(uint8)")
        decimals = int(out[0]) if out else 8
        set_feed(fork, source.address, int(round(price * 10**decimals)), now)
        return price
    if source.kind == "pair" and source.base:
        return move_pool(fork, source.address, source.base, price)
    return None


def refresh_feeds(fork: Fork, model: ProtocolModel, keep: set[str]) -> None:
    """After time passed on the fork: every feed but those in `keep` publishes its answer again now (the keepers
    of a live chain do; a fork has none), so that only the scenario's feeds go stale."""
    now = fork.now()
    for source in model.sources.values():
        if source.kind == "feed" and source.address not in keep:
            current = feed_answer(fork, source.address)
            if current is not None:
                set_feed(fork, source.address, current[1], now)


def update_derived(fork: Fork, model: ProtocolModel) -> list[str]:
    """Derived sources with an `update()` (TWAPs) are updated; those that took it."""
    updated = []
    for source in model.sources.values():
        if (source.kind == "derived" and isinstance(fork.raw_call(source.address, selector("update()"), MOVER), str)
                and fork.send(MOVER, source.address, "update()").ok):
            updated.append(source.address)
    return updated


# -- pauses --------------------------------------------------------------------------------------------------
def pause(fork: Fork, manifest: Manifest, model: ProtocolModel, entry: ContractEntry) -> dict[str, Any]:
    """Pause `entry` on the fork by every path its manifest gives; who sent it, or why it could not."""
    done, errors = [], []
    for plan in pause_plans(manifest, entry, "watchdog stress scenario"):
        if is_done(fork.client, plan.check):
            done.append("already paused")
            continue
        sender = next((s for s in _pausers(fork, manifest, model, entry, plan.to)
                       if isinstance(fork.raw_call(plan.to, plan.data, s), str)), None)
        if sender is None:
            errors.append(f"no account found that may call {plan.decoded.get('function')} on {plan.to}")
            continue
        result = fork.send_data(sender, plan.to, plan.data)
        (done if result.ok and is_done(fork.client, plan.check) else errors).append(
            f"paused by {sender}" if result.ok else f"pause by {sender} failed: {result.error}")
    return {"contract": entry.name, "address": entry.address.lower(), "paused": not errors and bool(done),
            "how": done, "errors": errors}


def _pausers(fork: Fork, manifest: Manifest, model: ProtocolModel, entry: ContractEntry, to: str) -> list[str]:
    """Who may pause: the guardian and owner views of the contract and of what the pause calls, the Safe, the owners
    the model learned, the manifest's accounts, and whoever the contract granted a role."""
    found: list[str] = []
    for address in dict.fromkeys([entry.address.lower(), to.lower()]):
        for view in ("guardian()(address)", "owner()(address)", "admin()(address)", "pauser()(address)"):
            out = fork.read(address, view)
            if out:
                found.append(out[0])
        try:
            logs = fork.client.call("eth_getLogs", [{"address": address, "topics": [ROLE_GRANTED], "fromBlock": "0x0",
                                                     "toBlock": "latest"}]) or []
        except RpcAnswerError:  # a node that refuses so long a range: the other candidates remain
            logs = []
        found += ["0x" + entry_log["topics"][2][-40:] for entry_log in logs if len(entry_log.get("topics") or []) > 2]
    if manifest.safe is not None:
        found.append(manifest.safe.address)
    holder = model.holders.get(entry.address.lower())
    found += holder.owners if holder else []
    accounts = (manifest.model_extra or {}).get("accounts") or {}
    found += [a for a in accounts.values() if isinstance(a, str)] if isinstance(accounts, dict) else []
    return list(dict.fromkeys(a.lower() for a in found if a and int(a, 16)))

