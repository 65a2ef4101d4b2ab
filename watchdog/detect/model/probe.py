"""Learning the protocol model from the chain, with no hint: the views of each contract that holds funds are read
(zero-argument views, indexed lists with their counts, lookups by the tokens and ids found), every address they
name is classified by what it answers (a feed answers latestRoundData, a pool getReserves, a token its ERC-20
views...), sources are followed to their own inputs, and each holder's balances are read. Manifest roles and hints
override what is learned, never the other way round."""

from __future__ import annotations

import re
from typing import Any, Iterable

from watchdog.chain.abi import Function, static_functions
from watchdog.detect.model.feeds import learn_cadence
from watchdog.detect.model.graph import Holder, ProtocolModel, Source, Use
from watchdog.detect.reads import ChainReads
from watchdog.detect.registry import FUND_ROLES, ProtocolRegistry

MAX_INDEX = 16          # entries read of an indexed list
ZERO = "0x" + "00" * 20
# Views that name the token a contract keeps its books in; a vote for the quote asset.
ACCOUNTING = re.compile(r"^_?(cash|quote|settlement|asset|underlying|stable|base)(_?(token|asset))?(_?address)?$", re.I)
OWNERSHIP = re.compile(r"^(owner|admin|governance|gov|guardian|operator|manager)$", re.I)
PRICE_VIEWS = ("price()(uint256)", "latestAnswer()(int256)", "getPrice()(uint256)", "read()(uint256)")
SOURCE_ROLES = {"oracle_feed": "feed", "amm_pair": "pair", "twap_oracle": "derived", "oracle_adapter": "derived"}


def views(abi: Iterable[dict[str, Any]]) -> list[Function]:
    """The view functions of an ABI whose outputs can be read as static values (structs are not: their
    addresses would be taken for the contract's own)."""
    return [f for f in static_functions(abi) if f.view and f.outputs and not f.flattened]


class Prober:
    def __init__(self, registry: ProtocolRegistry, reads: ChainReads, block: int | str) -> None:
        self.registry, self.reads, self.block = registry, reads, block
        self.model = ProtocolModel(learned_at=block if isinstance(block, int) else 0)
        self._kinds: dict[str, str] = {}
        self._ids: list[str] = []  # the ids the last explored contract's lists named

    # -- the whole model ---------------------------------------------------------------------------------
    def learn(self) -> ProtocolModel:
        for watched in self.registry.role(*SOURCE_ROLES):
            self.source(watched.address)
        for watched in self.registry.role(*FUND_ROLES):
            self.holder(watched)
        for watched in self.registry.role("token"):
            self.token(watched.address)
        self._quote()
        self._assets()
        self._holdings()
        return self.model

    def holder(self, watched: Any) -> Holder:
        holder = Holder(watched.address, watched.name, watched.role, watched.protocol)
        self.model.holders[watched.address] = holder
        if self.kind(watched.address) == "token" or self._is_erc20(watched.address):
            holder.claim_token = watched.address  # it issues its own shares
            self.token(watched.address)
        abi = self.registry.manifest.abi_of(watched.entry)
        plain = {v.name for v in views(abi) if not v.inputs}
        found = self.explore(watched.address, abi)
        holder.ids = sorted(self._ids)
        for via, key, named in found:
            kind = self.kind(named)
            if kind in ("feed", "pair", "derived"):
                self.source(named)
                holder.uses.append(Use(named, via, key))
            elif kind == "token":
                self.token(named)
                if ACCOUNTING.match(via) and holder.accounting is None:
                    holder.accounting = named
            elif OWNERSHIP.match(via) and kind in ("eoa", "other"):  # a key, or a Safe / timelock holding one
                holder.owners.append(named)
            elif kind == "holder" and key is None and named != watched.address and via in plain:
                holder.links[named] = via  # a plain view naming another holder: its vault, its market
        return holder

    # -- reading views ---------------------------------------------------------------------------------
    def explore(self, address: str, abi: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
        """(view, key, address) for every address the contract's views name: plain views, indexed lists (up to
        their count), and lookups by the tokens and ids those return."""
        named: list[tuple[str, str | None, str]] = []
        counts: dict[str, int] = {}
        ids: set[bytes | str] = set()
        all_views = views(abi)
        for view in (v for v in all_views if not v.inputs):
            out = self.reads.call(address, view.signature, (), self.block)
            if out is None:
                continue
            named += [(view.name, None, v) for v, t in zip(out, view.outputs) if t == "address" and v != ZERO]
            if len(out) == 1 and view.outputs[0].startswith("uint") and re.search(r"(count|length|number)$", view.name, re.I):
                counts[view.name] = min(int(out[0]), MAX_INDEX)
        for view in (v for v in all_views if v.inputs == ("uint256",)):
            count = _count_for(view.name, counts)
            for index in range(count):
                out = self.reads.call(address, view.signature, (index,), self.block)
                for value, kind in zip(out or (), view.outputs):
                    if kind == "address" and value != ZERO:
                        named.append((view.name, None, value))
                    elif kind == "bytes32":
                        ids.add(value)
        self._ids = sorted("0x" + i.hex() if isinstance(i, bytes) else str(i) for i in ids)
        # lookups by address are asked for every token seen and every watched holder (a router's price source per
        # market: `sources(market)`)
        tokens = ({a for _, _, a in named if self.kind(a) == "token"} | {w.address for w in self.registry.role("token")}
                  | {w.address for w in self.registry.role(*FUND_ROLES)})
        for view in (v for v in all_views if len(v.inputs) == 1 and v.inputs[0] in ("address", "bytes32")):
            keys = sorted(tokens) if view.inputs[0] == "address" else sorted(ids)
            for key in keys:
                out = self.reads.call(address, view.signature, (key if view.inputs[0] == "address" else _bytes32(key),), self.block)
                named += [(view.name, key, v) for v, t in zip(out or (), view.outputs) if t == "address" and v not in (ZERO, address)]
        return named

    # -- what an address is -------------------------------------------------------------------------------
    def kind(self, address: str) -> str:
        """feed | pair | derived | token | holder | eoa | other"""
        if address not in self._kinds:
            self._kinds[address] = self._classify(address)
        return self._kinds[address]

    def _classify(self, address: str) -> str:
        watched = self.registry.get(address)
        if watched is not None and watched.role in SOURCE_ROLES:
            return SOURCE_ROLES[watched.role]
        if watched is not None and watched.role in FUND_ROLES:
            return "holder"
        code = self.reads.reader.code(address, self.block)
        if not code or code == "0x":
            return "eoa"
        if self.reads.call(address, "latestRoundData()(uint80,int256,uint256,uint256,uint80)", (), self.block):
            return "feed"
        if self.reads.call(address, "getReserves()(uint112,uint112,uint32)", (), self.block) and self.reads.pair_tokens(address):
            return "pair"
        if watched is not None and watched.role == "token" or self._is_erc20(address):
            return "token"
        if self._price(address) is not None and self._inputs(address):
            return "derived"
        return "other"

    def _is_erc20(self, address: str) -> bool:
        return all(self.reads.call(address, sig, (), self.block) is not None
                   for sig in ("totalSupply()(uint256)", "decimals()(uint8)"))

    def _price(self, address: str) -> tuple[str, float] | None:
        for signature in PRICE_VIEWS:
            out = self.reads.call(address, signature, (), self.block)
            if out and out[0] > 0:
                return signature, float(out[0])
        return None

    def _inputs(self, address: str) -> list[str]:
        """The sources a derived source reads (its views naming feeds, pools or other derived sources)."""
        watched = self.registry.get(address)
        abi = self.registry.manifest.abi_of(watched.entry) if watched else []
        candidates = self.explore(address, abi) if abi else [
            (sig, None, out[0]) for sig in ("pair()(address)", "feed()(address)", "source()(address)", "aggregator()(address)")
            if (out := self.reads.call(address, sig, (), self.block))]
        return list(dict.fromkeys(a for _, _, a in candidates if a != address and self.kind(a) in ("feed", "pair", "derived")))

    # -- sources and tokens -------------------------------------------------------------------------------
    def source(self, address: str) -> Source:
        if address in self.model.sources:
            return self.model.sources[address]
        kind = self.kind(address)
        watched = self.registry.get(address)
        source = Source(address, kind if kind in ("feed", "pair", "derived") else "derived",  # type: ignore[arg-type]
                        watched.name if watched else _short(address))
        self.model.sources[address] = source
        if source.kind == "derived":
            source.inputs = self._inputs(address)
            for read in source.inputs:
                self.source(read)
        elif source.kind == "pair":
            for token in self.reads.pair_tokens(address) or ():
                self.token(token)
        elif source.kind == "feed":
            source.heartbeat, source.deviation = learn_cadence(self.reads, address, self.block)
        return source

    def token(self, address: str) -> None:
        if address not in self.model.tokens:
            out = self.reads.call(address, "symbol()(string)", (), "latest")
            watched = self.registry.get(address)
            self.model.tokens[address] = str(out[0]) if out else (watched.name if watched else _short(address))

    def _quote(self) -> None:
        """The token the protocols keep their books in: the manifest's hint, else the accounting tokens' vote,
        else a token whose symbol says dollar."""
        if self.registry.quote is not None:
            self.model.quote = self.registry.quote.address
            return
        votes: dict[str, int] = {}
        for holder in self.model.holders.values():
            if holder.accounting:
                votes[holder.accounting] = votes.get(holder.accounting, 0) + 1
        shares = {h.claim_token for h in self.model.holders.values()}  # a receipt is counted in what it claims
        dollar = lambda t: "USD" in self.model.tokens.get(t, "").upper()  # noqa: E731
        if votes:  # a tie (one vault per asset) goes to the dollar
            self.model.quote = max(votes, key=lambda t: (votes[t], dollar(t), t))
            return
        dollars = [t for t in self.model.tokens if dollar(t) and t not in shares]
        self.model.quote = dollars[0] if dollars else None

    def _assets(self) -> None:
        """What each source prices: a pool its non-quote token, a feed the token its description names, a
        derived source its base() view or its first input's asset; with the scale of a derived source's price."""
        quote = self.model.quote
        for source in self.model.sources.values():
            if source.kind == "pair":
                tokens = self.reads.pair_tokens(source.address) or (None, None)
                source.base = tokens[1] if tokens[0] == quote else tokens[0]
                source.quote = quote if quote in tokens else tokens[1]
            elif source.kind == "feed":
                out = self.reads.call(source.address, "description()(string)", (), self.block)
                base, _, unit = (str(out[0]) if out else "").partition("/")
                source.base = self._token_by_symbol(base.strip()) or source.base  # else what it was found to price
                source.quote = "usd" if "USD" in unit.upper() else source.quote
        for source in self.model.sources.values():
            if source.kind == "derived":
                own = self.reads.call(source.address, "base()(address)", (), self.block)
                first = next((self.model.sources[a] for a in source.inputs if a in self.model.sources), None)
                source.base = own[0] if own else (first.base if first else None)
                source.quote = first.quote if first else quote
                source.scale = self._scale(source, first)

    def _scale(self, source: Source, first: Source | None) -> int:
        """The power of ten that makes a derived source's price() match its input's (a TWAP in 18 decimals of
        a 6-decimal dollar...); 18 when there is nothing to compare with."""
        price = self._price(source.address)
        reference = self.price_of(first) if first else None
        if price is None or not reference:
            return 18
        return min(range(0, 40), key=lambda k: abs(price[1] / 10**k / reference - 1))

    def price_of(self, source: Source, block: int | str | None = None) -> float | None:
        at = self.block if block is None else block
        return price_of(self.reads, source, at)

    def _token_by_symbol(self, symbol: str) -> str | None:
        wanted = symbol.upper()
        for address, known in self.model.tokens.items():
            if known.upper() in (wanted, "W" + wanted):
                return address
        return None

    def _holdings(self) -> None:
        tokens = sorted(self.model.tokens)  # a stable order in the stored model
        for holder in self.model.holders.values():
            for token in tokens:
                balance = (self.reads.call(token, "balanceOf(address)(uint256)", (holder.address,), self.block) or (0,))[0]
                if balance:
                    holder.holds[token] = int(balance)


def price_of(reads: ChainReads, source: Source, block: int | str) -> float | None:
    """A source's price of its asset at `block`, in its quote (None when unreadable)."""
    if source.kind == "feed":
        return reads.feed_price(source.address, block)
    if source.kind == "pair":
        return reads.pair_price(source.address, source.base, block)
    for signature in PRICE_VIEWS:
        out = reads.call(source.address, signature, (), block)
        if out and out[0] > 0:
            return out[0] / 10**source.scale
    return None


def _count_for(name: str, counts: dict[str, int]) -> int:
    """The count view that goes with an indexed list: the one sharing the longest prefix with its name."""
    best, length = 0, 0
    for count_name, value in counts.items():
        common = len(_common_prefix(name.lower(), count_name.lower()))
        if common > length and common >= 4:
            best, length = value, common
    return best


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _bytes32(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else value


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"
