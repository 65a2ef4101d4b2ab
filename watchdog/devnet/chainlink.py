"""Chainlink's own price feed contracts on a devnet, compiled from the `@chainlink/contracts` npm sources (0.8.0).

A feed is a FluxAggregator (the on-chain aggregator of Chainlink's Flux Monitor feeds: oracles `submit` answers,
it emits `NewRound` and `AnswerUpdated`) read through a proxy, as protocols read it:
- `EACAggregatorProxy` (v0.6), the proxy of the long-lived mainnet feeds. Changing its aggregator emits NO event:
  only the `confirmAggregator` call, `aggregator()` and `phaseId()` show it.
- `AggregatorProxy` (v0.7), which emits `AggregatorProposed` and `AggregatorConfirmed`.
Round ids read through a proxy carry the phase id (one per aggregator) in the bits above 64.

The sources are compiled with solc-js through the project's `solc` shim (0.6.6 and 0.7.6, picked from the
pragmas); the output is cached under anvil/state/ (not committed), keyed on the sources and the compilers.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from web3 import Web3
from web3.contract import Contract

from watchdog import toolchain
from watchdog.devnet.accounts import Accounts, DevAccount
from watchdog.devnet.artifacts import Artifact
from watchdog.devnet.txs import connect, deploy, send
from watchdog.errors import ToolchainError

PACKAGE = "chainlink-contracts-0.8"  # @chainlink/contracts 0.8.0: the last release with the v0.6 proxy and aggregator
STATE_DIR = toolchain.PROJECT_ROOT / "anvil" / "state"
# Contract name -> its source in the package; the folder (v0.6, v0.7) is one compiler release.
SOURCES = {
    "FluxAggregator": "src/v0.6/FluxAggregator.sol",
    "EACAggregatorProxy": "src/v0.6/EACAggregatorProxy.sol",
    "AggregatorProxy": "src/v0.7/dev/AggregatorProxy.sol",
}
ProxyKind = Literal["EACAggregatorProxy", "AggregatorProxy"]

PHASE_OFFSET = 64  # a proxy's round id is phaseId << 64 | the aggregator's round id
ZERO_ADDRESS = "0x" + "00" * 20
ROUND_TIMEOUT = 3600  # seconds before an unanswered Flux round may be superseded
# Any int256 answer is accepted, so that drills can post zero or negative prices.
MIN_ANSWER, MAX_ANSWER = -(2**255), 2**255 - 1
FLUX_DEPLOY_GAS = 6_000_000  # it takes about 3.9 M


@dataclass(frozen=True)
class RoundData:
    """One answer of `latestRoundData()` / `getRoundData(roundId)`."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int

    @property
    def phase_id(self) -> int:
        return self.round_id >> PHASE_OFFSET

    @property
    def aggregator_round_id(self) -> int:
        return self.round_id & (2**PHASE_OFFSET - 1)


def proxy_round_id(phase_id: int, aggregator_round_id: int) -> int:
    """The round id a proxy gives to round `aggregator_round_id` of the aggregator of phase `phase_id`."""
    return phase_id << PHASE_OFFSET | aggregator_round_id


# --- compiling the package's sources ------------------------------------------------------------------------

def artifact(name: str) -> Artifact:
    """ABI and creation code of FluxAggregator, EACAggregatorProxy or AggregatorProxy."""
    folder = SOURCES[name].split("/")[1]
    return _compile_folder(folder)[name]


@cache
def _compile_folder(folder: str) -> dict[str, Artifact]:
    """Compile the contracts of one version folder of the package (one solc-js release), cached on disk."""
    root = toolchain.node_modules()
    package_dir = root / PACKAGE
    if not (package_dir / "package.json").exists():
        raise ToolchainError(f"{PACKAGE} is not installed: run `make setup` (or `npm install`) in the watchdog checkout")
    units = {name: f"{PACKAGE}/{path}" for name, path in SOURCES.items() if path.split("/")[1] == folder}
    request = {
        "language": "Solidity",
        "sources": {unit: {"urls": [unit]} for unit in sorted(set(units.values()))},
        "settings": {"optimizer": {"enabled": True, "runs": 200},
                     "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}},
    }
    key = _source_hash(request, package_dir / "src" / folder)
    cached = STATE_DIR / f"chainlink-{folder}-{key}.json"
    try:
        data = json.loads(cached.read_text())
    except (OSError, json.JSONDecodeError):
        data = _solc(request, root, units)
        _store(cached, data)
    return {name: Artifact(name, entry["abi"], entry["bytecode"]) for name, entry in data.items()}


def _source_hash(request: dict[str, Any], source_dir: Path) -> str:
    """Every source of the folder, the request and the installed compilers: what the compiled output depends on."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode())
    digest.update(",".join(toolchain.solc_versions()).encode())
    for path in sorted(source_dir.rglob("*.sol")):
        digest.update(str(path.relative_to(source_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _solc(request: dict[str, Any], root: Path, units: dict[str, str]) -> dict[str, dict[str, Any]]:
    try:
        done = subprocess.run([str(toolchain.solc()), "--standard-json", "--base-path", str(root)],
                              input=json.dumps(request), capture_output=True, text=True, timeout=600,
                              env=toolchain.tool_env(), cwd=root)
        output = json.loads(done.stdout)
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        raise ToolchainError(f"solc-js did not compile {PACKAGE} ({type(exc).__name__}): run `watchdog doctor`") from exc
    errors = [e["formattedMessage"].splitlines()[0] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise ToolchainError(f"compiling {PACKAGE} failed: {errors[0]}: run `make setup` to install the solc-js releases of package.json")
    compiled = {}
    for name, unit in units.items():
        contract = output["contracts"][unit][name]
        compiled[name] = {"abi": contract["abi"], "bytecode": "0x" + contract["evm"]["bytecode"]["object"]}
    return compiled


def _store(path: Path, data: dict[str, Any]) -> None:
    """Write atomically (concurrent runs never read half a file) and drop this folder's older outputs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".staging-", dir=path.parent)
    with os.fdopen(handle, "w") as out:
        json.dump(data, out)
    os.replace(staging, path)
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for stale in path.parent.glob(prefix + "*.json"):
        if stale != path:
            stale.unlink(missing_ok=True)


# --- a deployed feed ----------------------------------------------------------------------------------------

@dataclass
class ChainlinkFeed:
    """A feed on a devnet: its proxy, the dev accounts that own it (deployer) and answer it (keeper)."""

    rpc_url: str
    proxy_address: str
    proxy_kind: ProxyKind
    decimals: int
    description: str
    accounts: Accounts = field(default_factory=Accounts)

    @property
    def owner(self) -> DevAccount:
        return self.accounts.deployer

    @property
    def oracle(self) -> DevAccount:
        return self.accounts.keeper

    @cached_property
    def w3(self) -> Web3:
        return connect(self.rpc_url, self.accounts.all())

    @property
    def abis(self) -> dict[str, list[dict[str, Any]]]:
        """ABIs by contract name: the proxy's and the aggregator's."""
        return {self.proxy_kind: artifact(self.proxy_kind).abi, "FluxAggregator": artifact("FluxAggregator").abi}

    @property
    def proxy(self) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(self.proxy_address), abi=artifact(self.proxy_kind).abi)

    def aggregator(self, address: str | None = None) -> Contract:
        """The aggregator at `address`, by default the one the proxy reads now."""
        address = address or self.proxy.functions.aggregator().call()
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact("FluxAggregator").abi)

    def phase_id(self) -> int:
        return self.proxy.functions.phaseId().call()

    def post_round(self, answer: int, aggregator: str | None = None) -> Any:
        """The oracle answers the next round of `aggregator` (default: the current one); the receipt."""
        target = self.aggregator(aggregator)
        next_round = target.functions.latestRound().call() + 1
        return send(self.w3, target.functions.submit(next_round, answer), self.oracle)

    def deploy_aggregator(self, answer: int | None = None) -> str:
        """A new FluxAggregator with this feed's settings and oracle (and a first round when `answer` is given)."""
        return _deploy_aggregator(self.w3, self.accounts, self.decimals, self.description, answer)

    def propose_aggregator(self, address: str) -> Any:
        return send(self.w3, self.proxy.functions.proposeAggregator(Web3.to_checksum_address(address)), self.owner)

    def confirm_aggregator(self, address: str) -> Any:
        return send(self.w3, self.proxy.functions.confirmAggregator(Web3.to_checksum_address(address)), self.owner)

    def latest_round_data(self) -> RoundData:
        """`latestRoundData()` read through the proxy (round id with the phase id)."""
        return RoundData(*self.proxy.functions.latestRoundData().call())

    def round_data(self, round_id: int) -> RoundData:
        """`getRoundData(round_id)` through the proxy; `round_id` as the proxy numbers it (see proxy_round_id)."""
        return RoundData(*self.proxy.functions.getRoundData(round_id).call())


def deploy_feed(rpc_url: str, *, proxy: ProxyKind = "EACAggregatorProxy", answer: int = 3_000 * 10**8,
                decimals: int = 8, description: str = "ETH / USD") -> ChainlinkFeed:
    """Deploy a FluxAggregator with one oracle (the keeper), answer its first round, and put `proxy` in front."""
    accounts = Accounts()
    w3 = connect(rpc_url, accounts.all())
    aggregator = _deploy_aggregator(w3, accounts, decimals, description, answer)
    # No access controller (address 0): anyone may read, as on public feeds.
    args = (aggregator, ZERO_ADDRESS) if proxy == "EACAggregatorProxy" else (aggregator,)
    contract = deploy(w3, accounts.deployer, artifact(proxy), *args)
    return ChainlinkFeed(rpc_url, contract.address, proxy, decimals, description, accounts)


def _deploy_aggregator(w3: Web3, accounts: Accounts, decimals: int, description: str, answer: int | None) -> str:
    owner, oracle = accounts.deployer, accounts.keeper
    flux_artifact = artifact("FluxAggregator")
    factory = w3.eth.contract(abi=flux_artifact.abi, bytecode=flux_artifact.bytecode)
    # Payment 0: the oracle is not paid, so no LINK token is needed (the aggregator reads it only to pay).
    constructor = factory.constructor(ZERO_ADDRESS, 0, ROUND_TIMEOUT, ZERO_ADDRESS, MIN_ANSWER, MAX_ANSWER, decimals, description)
    # A fixed gas limit, no estimate: on a chain still at its genesis block, anvil simulates with a block time below
    # the timeout and the constructor's `block.timestamp - timeout` underflows (the mined transaction succeeds).
    receipt = send(w3, constructor, owner, gas=FLUX_DEPLOY_GAS)
    flux = w3.eth.contract(address=receipt["contractAddress"], abi=flux_artifact.abi)
    # One oracle whose single submission answers a round (min = max = 1, no restart delay).
    send(w3, flux.functions.changeOracles([], [oracle.address], [owner.address], 1, 1, 0), owner)
    if answer is not None:
        send(w3, flux.functions.submit(1, answer), oracle)
    return flux.address
