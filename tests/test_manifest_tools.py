"""Manifest tooling on a real anvil: manifests written from a real forge broadcast and from a hardhat-deploy folder,
roles found by probing deployed code without ABIs (the demo world, real Aave V3, a real Chainlink proxy), and
`manifest check` reporting each way a manifest can be wrong, down to a signer that may not send its pause."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from watchdog import toolchain
from watchdog.cli import app
from watchdog.devnet import Anvil
from watchdog.devnet.aave import AaveMarket, aave_on_anvil
from watchdog.devnet.accounts import Accounts
from watchdog.devnet.chainlink import ChainlinkFeed, deploy_feed
from watchdog.devnet.world import World
from watchdog.manifest import load_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "manifest" / "foundry"
ACCOUNTS = Accounts()
ZERO32 = "0x" + "00" * 32
NOBODY = "0x000000000000000000000000000000000000dEaD"


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, ["manifest", *args])


def by_name(path: Path) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(path.read_text())["contracts"]}


# --- from-foundry: a real `forge script --broadcast` --------------------------------------------------------------

@dataclass
class ForgeRun:
    node: Anvil
    broadcast: Path


@pytest.fixture(scope="module")
def forge_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForgeRun]:
    """The fixture project's deployment script broadcast to an anvil of its own by forge, offline, through the
    project's solc."""
    project = tmp_path_factory.mktemp("forge") / "project"
    shutil.copytree(FIXTURE, project)
    openzeppelin = toolchain.node_modules() / "@openzeppelin" / "contracts"
    (project / "foundry.toml").write_text(
        f'[profile.default]\nsrc = "src"\nout = "out"\noffline = true\nsolc = "{toolchain.solc()}"\n'
        f'remappings = ["@openzeppelin/contracts/={openzeppelin}/"]\n')
    with Anvil() as node:
        done = subprocess.run([str(toolchain.tool("forge")), "script", "script/Deploy.s.sol", "--rpc-url", node.url,
                               "--broadcast", "--private-key", ACCOUNTS.deployer.key, "--offline"],
                              cwd=project, env=toolchain.tool_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        yield ForgeRun(node, project / "broadcast" / "Deploy.s.sol" / "31337" / "run-latest.json")


def test_from_foundry_writes_the_manifest_of_a_real_broadcast(forge_run: ForgeRun, tmp_path: Path) -> None:
    result = cli("from-foundry", str(forge_run.broadcast), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    manifest = load_manifest(tmp_path / "manifest.json")
    contracts = by_name(tmp_path / "manifest.json")
    assert {n: c["role"] for n, c in contracts.items()} == {
        "Coin": "token",                 # CREATE2 through the deterministic deployer
        "ShareVault": "vault",           # ERC-4626
        "RoundFeed": "oracle_feed",
        "SpotOracleImplementation": "other",
        "SpotOracle": "oracle_adapter",  # the ERC-1967 proxy, with its implementation's ABI
        "CoinFactory": "other",
        "Coin-2": "token",               # created inside the factory call (additionalContracts)
    }
    assert contracts["SpotOracle"]["implementation"] == contracts["SpotOracleImplementation"]["address"].lower()
    assert contracts["ShareVault"]["pause"] == {"via": "self", "call": "pause()", "check": {"call": "paused()(bool)"}}
    assert any(f.get("name") == "convertToShares" for f in manifest.abi_of(manifest.by_name("ShareVault")))
    assert (tmp_path / "abi" / "Coin.json").is_file()
    # Every contract is really there, and the manifest starts at the block of the last deployment.
    for contract in contracts.values():
        assert forge_run.node.rpc("eth_getCode", [contract["address"], "latest"]) != "0x"
    # forge sends the transactions together: they are mined in any order, over several blocks.
    sent = [tx["hash"] for tx in json.loads(forge_run.broadcast.read_text())["transactions"]]
    mined = [int(forge_run.node.rpc("eth_getTransactionReceipt", [h])["blockNumber"], 16) for h in sent]
    assert manifest.block == max(mined)
    assert manifest.chain_id == 31337


def test_a_foundry_manifest_checks_clean_and_its_pause_needs_the_owner(forge_run: ForgeRun, tmp_path: Path) -> None:
    assert cli("from-foundry", str(forge_run.broadcast), "--out", str(tmp_path)).exit_code == 0
    path = str(tmp_path / "manifest.json")
    owner = cli("check", "--rpc", forge_run.node.url, path, "--signer-address", ACCOUNTS.deployer.address)
    assert owner.exit_code == 0 and ": ok: 7 contract(s) and 1 pause path(s)" in owner.output, owner.output
    stranger = cli("check", "--rpc", forge_run.node.url, path, "--signer-address", ACCOUNTS.attacker.address)
    assert stranger.exit_code == 2
    [line] = stranger.output.splitlines()
    assert line.startswith(f"{path}: contracts.ShareVault.pause: pause() on ShareVault")
    assert f"OwnableUnauthorizedAccount({ACCOUNTS.attacker.address.lower()})" in line
    assert "the signer does not hold the role it needs" in line


# --- from-hardhat: a deployments folder in hardhat-deploy's format ------------------------------------------------

def write_hardhat_folder(world: World, folder: Path) -> None:
    """deployments/<network> as hardhat-deploy writes it for some of the demo world's contracts, the adapter as a
    proxied deployment (<Name>.json with `implementation`, <Name>_Implementation.json, <Name>_Proxy.json)."""
    manifest = world.manifest
    folder.mkdir(parents=True)
    (folder / ".chainId").write_text("31337")
    (folder / "solcInputs").mkdir()
    (folder / "solcInputs" / "0f3a.json").write_text("{}")

    def deployment(name: str, entry: str, block: int, **extra: Any) -> None:
        contract = manifest.by_name(entry)
        data = {"address": contract.address, "abi": manifest.abi_of(contract), "transactionHash": "0x" + "ab" * 32,
                "receipt": {"blockNumber": block, "status": 1}, **extra}
        (folder / f"{name}.json").write_text(json.dumps(data))

    deployment("dUSD", "dUSD", manifest.block - 9)
    deployment("Guardian", "Guardian", manifest.block - 5)
    deployment("PerpMarket", "PerpMarket", manifest.block - 3)
    deployment("OracleAdapter", "OracleAdapter", manifest.block, implementation=world.addresses["OracleAdapterImplementation"])
    deployment("OracleAdapter_Implementation", "OracleAdapterImplementation", manifest.block - 1)
    upgraded = {"type": "event", "name": "Upgraded", "anonymous": False,
                "inputs": [{"name": "implementation", "type": "address", "indexed": True}]}
    (folder / "OracleAdapter_Proxy.json").write_text(json.dumps(
        {"address": world.addresses["OracleAdapter"], "abi": [upgraded], "receipt": {"blockNumber": manifest.block}}))


def test_from_hardhat_reads_a_deployments_folder(world: World, anvil: Anvil, tmp_path: Path) -> None:
    folder = tmp_path / "deployments" / "localhost"
    write_hardhat_folder(world, folder)
    result = cli("from-hardhat", str(folder), "--out", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    path = tmp_path / "m" / "manifest.json"
    manifest = load_manifest(path)
    contracts = by_name(path)
    assert {n: c["role"] for n, c in contracts.items()} == {
        "dUSD": "token", "Guardian": "guardian", "OracleAdapter": "oracle_adapter",
        "OracleAdapter_Implementation": "other", "PerpMarket": "other",
    }  # OracleAdapter_Proxy is the same contract as OracleAdapter
    assert contracts["OracleAdapter"]["implementation"] == world.addresses["OracleAdapterImplementation"]
    # A contract the guardian can pause is paused through the guardian of the same deployment.
    assert contracts["PerpMarket"]["pause"] == {"via": "guardian", "guardian": world.addresses["Guardian"],
                                                "scope": "protocol", "scope_id": ZERO32}
    assert (manifest.chain_id, manifest.block) == (31337, world.manifest.block)
    checked = cli("check", "--rpc", anvil.url, str(path), "--signer-address", ACCOUNTS.responder.address)
    assert checked.exit_code == 0, checked.output


# --- probe: roles from code and views, without ABIs --------------------------------------------------------------

def probe_json(rpc: str, *addresses: str) -> dict[str, Any]:
    result = cli("probe", "--rpc", rpc, "--json", *addresses)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_probe_finds_the_roles_of_the_demo_world(world: World, anvil: Anvil) -> None:
    names = ["Safe", "dUSD", "WETH", "WETH-dUSD", "WETH-dUSD-AltSwap", "UniswapV2Router02", "ETH-USD-Feed",
             "TwapOracle", "OracleAdapter", "Guardian", "FlashLender", "PerpMarket", "CollateralVault"]
    report = probe_json(anvil.url, *(world.addresses[n] for n in names), NOBODY)
    found = {c["address"]: c for c in report["contracts"]}
    role = {n: found[world.addresses[n].lower()]["role"] for n in names}
    assert role == {"Safe": "safe", "dUSD": "token", "WETH": "token", "WETH-dUSD": "amm_pair",
                    "WETH-dUSD-AltSwap": "amm_pair", "UniswapV2Router02": "router", "ETH-USD-Feed": "oracle_feed",
                    "TwapOracle": "twap_oracle", "OracleAdapter": "oracle_adapter", "Guardian": "guardian",
                    "FlashLender": "flash_lender", "PerpMarket": "other", "CollateralVault": "other"}
    adapter = found[world.addresses["OracleAdapter"].lower()]
    assert adapter["implementation"] == world.addresses["OracleAdapterImplementation"].lower()
    assert adapter["reasons"][0].startswith("EIP-1967 proxy to")
    safe = found[world.addresses["Safe"].lower()]
    assert "Safe: 2 of 3 owners" in " ".join(safe["reasons"])
    pair = found[world.addresses["WETH-dUSD"].lower()]
    assert pair["name"] in ("WETH-dUSD", "dUSD-WETH")  # token0 first: the order of the token addresses
    assert any(r.startswith("Uniswap V2 pair of") and "WETH" in r and "dUSD" in r for r in pair["reasons"])
    assert "AccessControl roles (hasRole)" in found[world.addresses["Guardian"].lower()]["reasons"]
    for pausable in ("PerpMarket", "CollateralVault"):
        assert found[world.addresses[pausable].lower()]["pause"] == {
            "via": "guardian", "guardian": world.addresses["Guardian"].lower(), "scope": "protocol", "scope_id": ZERO32}
    assert report["no_code"] == [NOBODY.lower()]


def test_a_probed_manifest_is_valid_and_checks_clean(world: World, anvil: Anvil, tmp_path: Path) -> None:
    names = ["Safe", "dUSD", "WETH-dUSD", "ETH-USD-Feed", "OracleAdapter", "Guardian", "PerpMarket"]
    path = tmp_path / "probed.json"
    result = cli("probe", "--rpc", anvil.url, *(world.addresses[n] for n in names), "--out", str(path))
    assert result.exit_code == 0, result.output
    manifest = load_manifest(path)
    assert manifest.safe is not None and manifest.safe.threshold == 2 and len(manifest.safe.owners) == 3
    [pair] = [c for c in manifest.contracts if c.role == "amm_pair"]
    assert set(pair.name.split("-")) == {"WETH", "dUSD"}  # token0 first: the order of the token addresses
    assert {"Swap", "Sync"} <= {i["name"] for i in manifest.abi_of(pair) if i["type"] == "event"}
    checked = cli("check", "--rpc", anvil.url, str(path), "--signer-address", ACCOUNTS.responder.address)
    assert checked.exit_code == 0, checked.output


@dataclass
class RealProtocols:
    node: Anvil
    aave: AaveMarket
    feed: ChainlinkFeed


@pytest.fixture(scope="module")
def real() -> Iterator[RealProtocols]:
    """Real Aave V3 (npm bytecode) and a real Chainlink EACAggregatorProxy in front of a FluxAggregator."""
    with Anvil() as node:
        aave = aave_on_anvil(node)
        yield RealProtocols(node, aave, deploy_feed(node.url))


def test_probe_recognises_real_aave_and_a_chainlink_proxy(real: RealProtocols) -> None:
    aave = real.aave.addresses
    names = ["Pool", "PoolConfigurator", "AaveOracle", "ACLManager", "tUSD", "atUSD", "tETH", "atETH"]
    report = probe_json(real.node.url, *(aave[n] for n in names), real.feed.proxy_address)
    found = {c["address"]: c for c in report["contracts"]}
    role = {n: found[aave[n].lower()]["role"] for n in names}
    assert role == {"Pool": "lending", "PoolConfigurator": "other", "AaveOracle": "oracle_adapter",
                    "ACLManager": "other", "tUSD": "token", "atUSD": "vault", "tETH": "token", "atETH": "vault"}
    pool = found[aave["Pool"].lower()]
    assert pool["implementation"] and pool["reasons"][0].startswith("EIP-1967 proxy to")
    assert "Aave V3 pool with 2 reserve(s)" in pool["reasons"]  # liquidationCall (0x00a718a9) is pushed by PUSH3
    assert "Aave aToken of tUSD" in found[aave["atUSD"].lower()]["reasons"]
    configurator = " ".join(found[aave["PoolConfigurator"].lower()]["reasons"])
    assert "setPoolPause(bool)" in configurator and found[aave["PoolConfigurator"].lower()]["pause"] is None
    feed = found[real.feed.proxy_address.lower()]
    assert feed["role"] == "oracle_feed" and feed["name"] == "ETH-USD-feed"
    aggregator = real.feed.aggregator().address.lower()
    assert any(r.startswith("Chainlink proxy: aggregator") and aggregator[:6] in r for r in feed["reasons"])


# --- check: a good manifest, and every kind of broken one ----------------------------------------------------------

def test_check_passes_the_demo_manifest(world: World, anvil: Anvil) -> None:
    result = cli("check", "--rpc", anvil.url, str(world.manifest_path), "--signer-address", ACCOUNTS.responder.address)
    assert result.exit_code == 0, result.output
    assert f"ok: {len(world.manifest.contracts)} contract(s) and 2 pause path(s) on chain 31337" in result.output


def test_check_reports_each_problem_on_its_own_line(world: World, anvil: Anvil, tmp_path: Path) -> None:
    data = json.loads(world.manifest_path.read_text())
    contracts = {c["name"]: c for c in data["contracts"]}
    data["chain_id"] = 1
    contracts["dUSD"]["address"] = NOBODY
    weth = contracts["WETH"]
    weth["abi"] = world.manifest.abi_of(world.manifest.by_name("WETH")) + [
        {"type": "function", "name": "mintForFree", "inputs": [{"name": "amount", "type": "uint256"}], "outputs": [],
         "stateMutability": "nonpayable"}]
    contracts["PerpMarket"]["pause"] = {"via": "self", "call": "emergencyStop()"}
    contracts["ETH-USD-Feed"]["pause"] = {"via": "self", "call": "setUpdater(address)", "args": ["Guardian"]}
    contracts["CollateralVault"]["pause"]["guardian"] = world.addresses["WETH"]
    for entry in data["contracts"]:  # ABI paths relative to the demo manifest
        if isinstance(entry["abi"], str):
            entry["abi"] = str(world.manifest_path.parent / entry["abi"])
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))

    result = cli("check", "--rpc", anvil.url, str(path))
    assert result.exit_code == 2
    lines = result.output.splitlines()
    problems = {line.split(": ")[1]: line for line in lines}
    assert set(problems) == {"chain_id", "contracts.dUSD.address", "contracts.WETH.abi", "contracts.PerpMarket.pause.call",
                             "contracts.ETH-USD-Feed.pause.check", "contracts.CollateralVault.pause.guardian"}, lines
    assert all(line.startswith(f"{path}: ") and line.count(": ") >= 3 for line in lines)
    assert "is 1 but the node" in problems["chain_id"] and "serves chain 31337" in problems["chain_id"]
    assert f"no code at {NOBODY}" in problems["contracts.dUSD.address"]
    assert "1 of its" in problems["contracts.WETH.abi"] and "mintForFree(uint256)" in problems["contracts.WETH.abi"]
    assert "emergencyStop() is not in the code of PerpMarket" in problems["contracts.PerpMarket.pause.call"]
    assert "paused()(bool) on ETH-USD-Feed" in problems["contracts.ETH-USD-Feed.pause.check"]
    assert "WETH" in problems["contracts.CollateralVault.pause.guardian"]
    assert "has no pause(address,bytes32,string)" in problems["contracts.CollateralVault.pause.guardian"]


def aave_manifest(market: AaveMarket, out: Path) -> Path:
    """The Aave market's manifest with the emergency admin's pause of the whole pool."""
    path = market.write_manifest(out)
    data = json.loads(path.read_text())
    for entry in data["contracts"]:
        if entry["name"] == "Pool":
            entry["pause"] = {"via": "self", "to": "PoolConfigurator", "call": "setPoolPause(bool)", "args": [True],
                              "check": {"to": "Pool", "call": "getConfiguration(address)(uint256)", "args": ["tUSD"], "bit": 60}}
    path.write_text(json.dumps(data))
    return path


def test_check_simulates_the_pause_from_the_signer(real: RealProtocols, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = aave_manifest(real.aave, tmp_path / "aave")
    admin = cli("check", "--rpc", real.node.url, str(path), "--signer-address", real.aave.emergency_admin.address)
    assert admin.exit_code == 0, admin.output

    # The signer named by a config: the executor's signer, here a trader without EMERGENCY_ADMIN.
    monkeypatch.setenv("WATCHDOG_TEST_MANIFEST_KEY", ACCOUNTS.traders[0].key)
    config = tmp_path / "watchdog.toml"
    config.write_text(f'[networks.devnet]\nchain_id = 31337\nrpc_urls = ["{real.node.url}"]\n\n'
                      '[signers.responder]\nkey_env = "WATCHDOG_TEST_MANIFEST_KEY"\n')
    trader = cli("check", "--rpc", real.node.url, str(path), "--config", str(config))
    assert trader.exit_code == 2
    [line] = trader.output.splitlines()
    assert line.startswith(f"{path}: contracts.Pool.pause: setPoolPause(bool) on PoolConfigurator")
    assert f'from {ACCOUNTS.traders[0].address.lower()} reverts ("2")' in line  # Aave's CALLER_NOT_EMERGENCY_ADMIN
    assert "the signer does not hold the role it needs" in line
    assert not real.aave.reserve_flags().paused  # simulated, never sent


def test_bad_input_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    not_a_broadcast = tmp_path / "run-latest.json"
    not_a_broadcast.write_text('{"receipts": []}')
    cases = {
        "'0x1234' is not an address": ["probe", "--rpc", "http://127.0.0.1:9", "0x1234"],
        "is not a forge broadcast (no `transactions` list)": ["from-foundry", str(not_a_broadcast)],
        "has no <Name>.json deployment files": ["from-hardhat", str(tmp_path / "empty")],
    }
    (tmp_path / "empty").mkdir()
    for message, args in cases.items():
        done = subprocess.run([sys.executable, "-m", "watchdog", "manifest", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert message in line and "Traceback" not in done.stderr


def test_check_takes_a_pause_per_market(real: RealProtocols, tmp_path: Path) -> None:
    """A pause given as a list (one call per reserve) is checked path by path, each problem under its own index."""
    path = aave_manifest(real.aave, tmp_path / "aave")
    data = json.loads(path.read_text())
    pool = next(entry for entry in data["contracts"] if entry["name"] == "Pool")
    pool["pause"] = [{"via": "self", "to": "PoolConfigurator", "call": "setReservePause(address,bool)", "args": [symbol, True],
                      "check": {"to": "Pool", "call": "getConfiguration(address)(uint256)", "args": [symbol], "bit": 60}}
                     for symbol in ("tUSD", "tETH")]
    path.write_text(json.dumps(data))
    admin = cli("check", "--rpc", real.node.url, str(path), "--signer-address", real.aave.emergency_admin.address)
    assert admin.exit_code == 0 and "2 pause path(s)" in admin.output, admin.output

    pool["pause"][1]["call"] = "freezeEverything(address,bool)"
    path.write_text(json.dumps(data))
    broken = cli("check", "--rpc", real.node.url, str(path), "--signer-address", real.aave.emergency_admin.address)
    assert broken.exit_code == 2
    [line] = broken.output.splitlines()
    assert line.startswith(f"{path}: contracts.Pool.pause[2].call: freezeEverything(address,bool) is not in the code")
