"""Suggest manifest entries for deployed addresses without their ABIs: read the code (the implementation's behind
a proxy) for the functions its dispatcher has, call the views of every known interface, and turn what answers
into a role, a name, reasons, the interfaces' standard ABI and a pause section where one can be guessed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.errors import ConfigError
from watchdog.manifests.calls import read_views
from watchdog.manifests.interfaces import ROUND_DATA, SAFE_OWNERS, Answers, all_views
from watchdog.manifests.pauses import suggest_pause
from watchdog.manifests.proxies import Proxy, find_proxy
from watchdog.manifests.roles import Evidence, Guess, guess_role
from watchdog.manifests.selectors import dispatcher_selectors
from watchdog.manifests.writer import Draft, unique_names

BATCH = 100  # calls per JSON-RPC batch (providers cap batch sizes)
SYMBOL, DESCRIPTION = "symbol()(string)", "description()(string)"
# Views whose answer is another contract, worth naming in the reasons (a pair's tokens, a vault's asset...).
POINTERS = ("token0()(address)", "token1()(address)", "asset()(address)", "UNDERLYING_ASSET_ADDRESS()(address)",
            "pair()(address)", "aggregator()(address)", "owner()(address)")


@dataclass(slots=True)
class Probe:
    """What one address showed."""

    address: str
    proxy: Proxy | None
    selectors: set[str]
    answers: Answers = field(default_factory=dict)
    guess: Guess = field(default_factory=lambda: Guess("other"))

    def value(self, view: str, index: int = 0) -> Any:
        return self.answers[view][index]


@dataclass(slots=True)
class ProbeReport:
    chain_id: int
    block: int
    drafts: list[Draft]
    no_code: list[str]  # addresses with no code (accounts, or nothing deployed on this chain)
    safe: dict[str, Any] | None = None  # the manifest's `safe` section when exactly one Safe was probed


def probe_addresses(rpc: RpcClient, addresses: list[str]) -> ProbeReport:
    """Probe every address at the current block."""
    wanted = list(dict.fromkeys(_address(a) for a in addresses))
    chain_id = int(rpc.call("eth_chainId"), 16)
    block = int(rpc.call("eth_blockNumber"), 16)
    probes, no_code = _read_code(rpc, wanted, block)
    views = all_views()
    answers = _read(rpc, [(p.address, v) for p in probes for v in views], hex(block))
    for n, probe in enumerate(probes):
        probe.answers = {v: a for v, a in zip(views, answers[n * len(views):(n + 1) * len(views)]) if a is not None}
        probe.guess = guess_role(Evidence(probe.selectors, probe.answers))
    return ProbeReport(chain_id, block, _drafts(rpc, probes, hex(block)), no_code, _safe_section(probes))


def _read_code(rpc: RpcClient, addresses: list[str], block: int) -> tuple[list[Probe], list[str]]:
    """A probe per address with code, its selectors from its dispatcher (and its implementation's behind a
    proxy); the addresses without code apart."""
    reader = BlockReader(rpc, "probe", block)
    probes, no_code = [], []
    for address, code in zip(addresses, rpc.batch([("eth_getCode", [a, hex(block)]) for a in addresses])):
        if not code or code == "0x":
            no_code.append(address)
            continue
        proxy = find_proxy(reader, address, code)
        selectors = dispatcher_selectors(code)
        if proxy is not None:
            selectors |= dispatcher_selectors(reader.code(proxy.implementation))
        probes.append(Probe(address, proxy, selectors))
    return probes, no_code


def _drafts(rpc: RpcClient, probes: list[Probe], block: str) -> list[Draft]:
    """One draft per probe: named, with reasons that name the other contracts by their draft names or symbols."""
    extra = _extra_reads(rpc, probes, block)
    drafts = [Draft(_name(p, extra), p.address, p.guess.role, _abi(p.guess)) for p in probes]
    unique_names(drafts)
    names = {p.address: d.name for p, d in zip(probes, drafts)}

    def label(address: str) -> str:
        return names.get(address.lower()) or extra.get((address.lower(), SYMBOL)) or _short(address)

    guardians = [p.address for p in probes if p.guess.role == "guardian"]
    for probe, draft in zip(probes, drafts):
        if probe.proxy:
            draft.reasons.append(probe.proxy.describe(label) + " (its code probed)")
            draft.extra["implementation"] = probe.proxy.implementation
        draft.reasons += [_describe(i.name, probe, label) for i in probe.guess.interfaces] or ["no known interface answers"]
        draft.pause, notes = suggest_pause(probe.guess, probe.selectors, guardians[0] if len(guardians) == 1 else None)
        draft.reasons += notes
    return drafts


def _safe_section(probes: list[Probe]) -> dict[str, Any] | None:
    safes = [p for p in probes if p.guess.role == "safe"]
    if len(safes) != 1:
        return None
    owners, threshold = safes[0].value(SAFE_OWNERS), safes[0].value("getThreshold()(uint256)")
    return {"address": safes[0].address, "owners": list(owners), "threshold": threshold}


def _address(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 42 or not value.startswith("0x") or any(c not in "0123456789abcdef" for c in value[2:]):
        raise ConfigError(f"{text!r} is not an address: give 0x followed by 40 hex digits")
    return value


def _read(rpc: RpcClient, calls: list[tuple[str, str]], block: str) -> list[tuple[Any, ...] | None]:
    out: list[tuple[Any, ...] | None] = []
    for start in range(0, len(calls), BATCH):
        out += read_views(rpc, calls[start:start + BATCH], block)
    return out


def _extra_reads(rpc: RpcClient, probes: list[Probe], block: str) -> dict[tuple[str, str], Any]:
    """Symbols of the probed contracts and of those they point at (a pair's tokens...), descriptions of feeds:
    what names and reasons are made of."""
    probed = {p.address for p in probes}
    pointed = {p.value(v).lower() for p in probes for v in POINTERS if v in p.answers} - probed
    calls = [(a, SYMBOL) for a in sorted(pointed)]
    calls += [(p.address, DESCRIPTION) for p in probes if p.guess.role == "oracle_feed"]
    found = {call: answer[0] for call, answer in zip(calls, _read(rpc, calls, block)) if answer is not None}
    return found | {(p.address, SYMBOL): p.value(SYMBOL) for p in probes if SYMBOL in p.answers}


def _name(probe: Probe, extra: dict[tuple[str, str], Any]) -> str:
    role, answers = probe.guess.role, probe.answers
    if role in ("safe", "guardian"):
        return role.capitalize()
    if role in ("token", "vault") and SYMBOL in answers:
        return answers[SYMBOL][0]
    if role == "amm_pair":
        # named by its tokens: the pair's own symbol says nothing (UNI-V2)
        tokens = [probe.value(v) for v in ("token0()(address)", "token1()(address)")]
        symbols = [extra.get((t.lower(), SYMBOL)) for t in tokens]
        if all(symbols):
            return "-".join(symbols)
    if role == "oracle_feed" and (probe.address, DESCRIPTION) in extra:
        return extra[(probe.address, DESCRIPTION)].replace(" / ", "-").replace(" ", "") + "-feed"
    return f"{role}-{probe.address[2:8]}"


def _abi(guess: Guess) -> list[dict[str, Any]]:
    """The standard ABI of every recognised interface, each function and event once."""
    seen, abi = set(), []
    for interface in guess.interfaces:
        for item in interface.abi():
            key = (item["type"], item["name"], tuple(p["type"] for p in item["inputs"]))
            if key not in seen:
                seen.add(key)
                abi.append(item)
    return abi


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def _describe(interface: str, probe: Probe, label: Callable[[str], str]) -> str:
    """One reason line for a recognised interface, with what its views said."""
    v = probe.value
    match interface:
        case "Safe":
            return f"Safe: {v('getThreshold()(uint256)')} of {len(v(SAFE_OWNERS))} owners, nonce {v('nonce()(uint256)')}"
        case "watchdog guardian":
            return "guardian: pause(target, scope, reason)"
        case "Chainlink aggregator":
            return f"Chainlink feed: latestRoundData answers {v(ROUND_DATA, 1)} ({v('decimals()(uint8)')} decimals), round {v(ROUND_DATA)}"
        case "Chainlink proxy":
            return f"Chainlink proxy: aggregator {label(v('aggregator()(address)'))}, phase {v('phaseId()(uint16)')}"
        case "Uniswap V2 pair":
            return f"Uniswap V2 pair of {label(v('token0()(address)'))} and {label(v('token1()(address)'))}"
        case "Uniswap V3 pool":
            return f"Uniswap V3 pool of {label(v('token0()(address)'))} and {label(v('token1()(address)'))}"
        case "Uniswap V2 factory":
            return f"Uniswap V2 factory of {v('allPairsLength()(uint256)')} pair(s)"
        case "Aave V3 pool":
            return f"Aave V3 pool with {len(v('getReservesList()(address[])'))} reserve(s)"
        case "ERC-4626 vault":
            return f"ERC-4626 vault of {label(v('asset()(address)'))}"
        case "Aave aToken":
            return f"Aave aToken of {label(v('UNDERLYING_ASSET_ADDRESS()(address)'))}"
        case "TWAP oracle":
            return f"TWAP oracle over {label(v('pair()(address)'))} (update())"
        case "price view":
            return f"price() answers {v('price()(uint256)')}"
        case "ERC-20":
            return f"ERC-20 {v(SYMBOL)}, {v('decimals()(uint8)')} decimals"
        case "Pausable":
            return f"Pausable (paused now: {'yes' if v('paused()(bool)') else 'no'})"
        case "guardian target":
            return "scoped pauses (isPaused(bytes32), pause(bytes32,uint64))"
        case "Ownable":
            return f"owner {label(v('owner()(address)'))}"
        case "AccessControl":
            return "AccessControl roles (hasRole)"
    return interface
