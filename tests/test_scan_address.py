"""`watchdog scan --address`: bytecode verdicts and source lookup (forge artifacts, a Sourcify folder, an
explorer API on a local HTTP server) for contracts deployed on a real anvil."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from eth_abi import encode
from eth_utils import to_checksum_address
from fixtures.http import JsonHandler, serve
from fixtures.scan.helpers import check_sarif, run_cli

from watchdog import toolchain
from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.finding import Severity
from watchdog.devnet import Anvil
from watchdog.errors import ConfigError, RpcError
from watchdog.detect import bytecode
from watchdog.scan import sources
from watchdog.scan.address import SourceLocations, scan_address
from watchdog.scan.compiler import run_solc
from watchdog.detect.deployment import scan_deployment
from watchdog.scan.scanner import ScanOptions

FIXTURES = Path(__file__).parent / "fixtures" / "scan"
RECEIVER = FIXTURES / "flash_callback" / "Vulnerable.sol"
PRICER = FIXTURES / "chainlink" / "Fixed.sol"
WATCHED_POOL = "0x" + "5f" * 20
OTHER = "0x" + "a1" * 20


def compile_full(path: Path) -> tuple[dict, dict[str, dict]]:
    """(standard JSON input, contract name -> {bytecode, deployed, metadata, unit}) with real solc-js."""
    found = sources.load(path)
    group = found.groups[0]
    standard = group.standard_json(found.sources, found.remappings)
    standard["settings"]["outputSelection"] = {"*": {"*": ["evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]}}
    output = run_solc(standard, group.version, found.root, timeout=120)
    contracts = {
        name: {"bytecode": c["evm"]["bytecode"]["object"], "deployed": c["evm"]["deployedBytecode"]["object"], "metadata": c["metadata"], "unit": unit}
        for unit, by_name in output["contracts"].items()
        for name, c in by_name.items()
    }
    return standard, contracts


def deploy(node: Anvil, init_code: str) -> str:
    sender = node.rpc("eth_accounts", [])[0]
    nonce = node.rpc("eth_getTransactionCount", [sender, "latest"])  # explicit: the pool's count survives reverts
    tx = {"from": sender, "data": "0x" + init_code.removeprefix("0x"), "gas": hex(5_000_000), "nonce": nonce}
    tx_hash = node.rpc("eth_sendTransaction", [tx])
    for _ in range(200):  # automine answers with the hash before the receipt is indexed on a busy machine
        receipt = node.rpc("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            break
        time.sleep(0.05)
    assert receipt and int(receipt["status"], 16) == 1, receipt
    return receipt["contractAddress"]


@pytest.fixture(scope="module")
def receiver_build() -> tuple[dict, dict[str, dict]]:
    return compile_full(RECEIVER)


@pytest.fixture
def receiver(anvil: Anvil, receiver_build) -> tuple[str, str]:
    """(address, init code) of an unvalidated flash-loan receiver aimed at the watched pool."""
    init = receiver_build[1]["TrustingFlashReceiver"]["bytecode"] + encode(["address"], [WATCHED_POOL]).hex()
    return deploy(anvil, init), init


def reader_for(node: Anvil) -> BlockReader:
    return BlockReader(RpcClient(node.url), "devnet")


def test_bytecode_verdict_flags_an_exploit_profile(anvil: Anvil, receiver: tuple[str, str]) -> None:
    address, _ = receiver
    verdict = scan_deployment(reader_for(anvil), address, {WATCHED_POOL})
    assert verdict.severity == Severity.HIGH and verdict.suspicious
    assert verdict.flash_callbacks == ["executeOperation", "uniswapV2Call"]
    assert verdict.watched_references == [WATCHED_POOL]  # the immutable, baked into the runtime code


def test_bytecode_verdict_benign_twins(anvil: Anvil, receiver: tuple[str, str]) -> None:
    """The same receiver aimed elsewhere is only a weak sign; a plain price consumer is nothing."""
    address, _ = receiver
    assert scan_deployment(reader_for(anvil), address, {OTHER}).severity == Severity.LOW
    _, pricer = compile_full(PRICER)
    consumer = deploy(anvil, pricer["CheckedCollateralPricer"]["bytecode"] + encode(["address"], [OTHER]).hex())
    verdict = scan_deployment(reader_for(anvil), consumer, {WATCHED_POOL})
    assert verdict.severity == Severity.INFO and not verdict.flash_callbacks and not verdict.suspicious


def test_constructor_arguments_count_as_references(anvil: Anvil, tmp_path: Path) -> None:
    """A target passed to the constructor and kept in storage is not in the runtime code, but is in the init code."""
    (tmp_path / "Keeper.sol").write_text(
        "pragma solidity ^0.8.24;\ncontract Keeper { address public target; constructor(address t) { target = t; } }\n"
    )
    _, built = compile_full(tmp_path / "Keeper.sol")
    init = built["Keeper"]["bytecode"] + encode(["address"], [WATCHED_POOL]).hex()
    address = deploy(anvil, init)
    assert scan_deployment(reader_for(anvil), address, {WATCHED_POOL}).watched_references == []
    verdict = scan_deployment(reader_for(anvil), address, {WATCHED_POOL}, init_code=init)
    assert verdict.watched_references == [WATCHED_POOL] and verdict.severity == Severity.LOW


def deploy_proxy(node: Anvil, implementation: str, tmp_path: Path) -> str:
    """An OpenZeppelin ERC1967Proxy in front of `implementation`."""
    (tmp_path / "Proxy.sol").write_text(
        'pragma solidity ^0.8.24;\nimport {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";\n'
        "contract P is ERC1967Proxy { constructor(address i) ERC1967Proxy(i, \"\") {} }\n"
    )
    _, built = compile_full(tmp_path / "Proxy.sol")
    return deploy(node, built["P"]["bytecode"] + encode(["address"], [implementation]).hex())


def test_eip1967_proxy_is_judged_by_its_implementation(anvil: Anvil, receiver: tuple[str, str], tmp_path: Path) -> None:
    impl, _ = receiver
    proxy = deploy_proxy(anvil, impl, tmp_path)
    verdict = scan_deployment(reader_for(anvil), proxy, {WATCHED_POOL})
    assert verdict.proxy == {"kind": "eip1967", "implementation": impl.lower()}
    assert verdict.flash_callbacks == ["executeOperation", "uniswapV2Call"] and verdict.severity == Severity.HIGH
    assert "DELEGATECALL" not in verdict.opcodes


def test_metadata_trailer_is_parsed(receiver_build) -> None:
    deployed = receiver_build[1]["TrustingFlashReceiver"]["deployed"]
    _, fields = bytecode.split_metadata(bytes.fromhex(deployed))
    assert len(fields["ipfs"]) == 34 and fields["solc"] == bytes([0, 8, 20])


def test_address_without_source_gets_bytecode_findings(anvil: Anvil, receiver: tuple[str, str]) -> None:
    address, _ = receiver
    report = scan_address(address, anvil.url, SourceLocations(), ScanOptions(use_cache=False), watched={WATCHED_POOL})
    detectors = {f.detector for f in report.findings}
    assert {"wd-bytecode-exploit-profile", "wd-bytecode-flash-callback", "wd-bytecode-watched-address"} <= detectors
    assert "no source found" in report.target


def test_source_from_forge_artifacts(anvil: Anvil, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "Receiver.sol").write_text(RECEIVER.read_text())
    (project / "foundry.toml").write_text(
        f'[profile.default]\nsrc = "src"\nout = "out"\noffline = true\nsolc = "{toolchain.solc()}"\n'
    )
    # forge checks pragmas against the shim's --version, which reports the newest compiler unless pinned.
    env = {**toolchain.tool_env(), "WATCHDOG_SOLC_VERSION": "0.8.20"}
    subprocess.run([str(toolchain.tool("forge")), "build"], cwd=project, env=env, check=True, capture_output=True, timeout=300)
    artifact = json.loads((project / "out" / "Receiver.sol" / "TrustingFlashReceiver.json").read_text())
    address = deploy(anvil, artifact["bytecode"]["object"] + encode(["address"], [WATCHED_POOL]).hex())
    report = scan_address(address, anvil.url, SourceLocations(artifacts=[project / "out"]), ScanOptions(include=["wd-*"], use_cache=False))
    assert "source from forge-artifacts" in report.target
    assert [(f.detector, f.file) for f in report.findings if not f.detector.startswith("wd-bytecode")] == [
        ("wd-flash-callback", "src/Receiver.sol"),
        ("wd-flash-callback", "src/Receiver.sol"),
    ]


def write_sourcify_entry(entry: Path, standard: dict, metadata: str) -> None:
    """A Sourcify-format match folder: the sources under `sources/` and the compiler metadata."""
    for unit, src in standard["sources"].items():
        (entry / "sources" / unit).parent.mkdir(parents=True, exist_ok=True)
        (entry / "sources" / unit).write_text(src["content"])
    (entry / "metadata.json").write_text(metadata)


def test_source_from_a_sourcify_folder(anvil: Anvil, receiver: tuple[str, str], receiver_build, tmp_path: Path) -> None:
    address, _ = receiver
    standard, contracts = receiver_build
    entry = tmp_path / "repo" / "contracts" / "full_match" / "31337" / to_checksum_address(address)
    write_sourcify_entry(entry, standard, contracts["TrustingFlashReceiver"]["metadata"])
    report = scan_address(address, anvil.url, SourceLocations(sourcify=tmp_path / "repo"), ScanOptions(include=["wd-*"], use_cache=False))
    assert f"TrustingFlashReceiver at {address.lower()}, source from sourcify" in report.target
    assert sum(f.detector == "wd-flash-callback" for f in report.findings) == 2


class ExplorerApi(JsonHandler):
    """An Etherscan-compatible `getsourcecode` endpoint that checks the documented query."""

    verified: dict[str, dict] = {}
    requests: list[dict] = []

    def do_GET(self) -> None:  # noqa: N802
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        ExplorerApi.requests.append(query)
        if urlparse(self.path).path == "/broken":
            self.send_error(500)
            return
        if query.get("module") != "contract" or query.get("action") != "getsourcecode":
            body = {"status": "0", "message": "NOTOK", "result": "Error! Missing Or invalid Module name"}
        elif query.get("apikey") != "test-key":
            body = {"status": "0", "message": "NOTOK", "result": "Invalid API Key"}
        else:
            found = ExplorerApi.verified.get(query.get("address", "").lower())
            unverified = {"SourceCode": "", "ABI": "Contract source code not verified", "ContractName": ""}
            body = {"status": "1", "message": "OK", "result": [found or unverified]}
        self._answer(200, body)


@pytest.fixture
def explorer() -> Iterator[str]:
    ExplorerApi.verified, ExplorerApi.requests = {}, []
    with serve(ExplorerApi) as url:
        yield f"{url}/api"


def test_source_from_an_explorer_api(anvil: Anvil, receiver: tuple[str, str], receiver_build, explorer: str) -> None:
    address, _ = receiver
    standard, _ = receiver_build
    ExplorerApi.verified[address.lower()] = {
        "SourceCode": "{" + json.dumps(standard) + "}",  # the standard-JSON form, in double braces
        "ContractName": "TrustingFlashReceiver",
        "CompilerVersion": "v0.8.20+commit.a1b79de6",
    }
    where = SourceLocations(explorer_api=explorer, explorer_key="test-key")
    report = scan_address(address, anvil.url, where, ScanOptions(include=["wd-*"], use_cache=False))
    assert ExplorerApi.requests[-1] == {"module": "contract", "action": "getsourcecode", "address": address.lower(), "apikey": "test-key"}
    assert "source from explorer" in report.target
    assert sum(f.detector == "wd-flash-callback" for f in report.findings) == 2


def test_unverified_on_the_explorer_falls_back_to_bytecode(anvil: Anvil, receiver: tuple[str, str], explorer: str) -> None:
    address, _ = receiver
    where = SourceLocations(explorer_api=explorer, explorer_key="test-key")
    report = scan_address(address, anvil.url, where, ScanOptions(use_cache=False), watched={WATCHED_POOL})
    assert "no source found" in report.target and any(f.detector == "wd-bytecode-exploit-profile" for f in report.findings)


def test_bad_address_and_empty_account_are_one_line_errors(anvil: Anvil) -> None:
    with pytest.raises(ConfigError, match="not a 20-byte hex address"):
        scan_address("0x1234", anvil.url, SourceLocations(), ScanOptions())
    with pytest.raises(RpcError, match="no contract code at"):
        scan_address(OTHER, anvil.url, SourceLocations(), ScanOptions())


def test_cli_address_scan_writes_sarif_and_fails_on_high(anvil: Anvil, receiver: tuple[str, str], tmp_path: Path) -> None:
    address, _ = receiver
    out = tmp_path / "address.sarif"
    proc = run_cli("--address", address, "--rpc", anvil.url, "--watch", WATCHED_POOL, "--format", "sarif", "-o", str(out), "--fail-on", "high")
    assert proc.returncode == 1, proc.stderr
    sarif = json.loads(out.read_text())
    check_sarif(sarif)
    results = sarif["runs"][0]["results"]
    assert {"wd-bytecode-exploit-profile", "wd-bytecode-flash-callback"} <= {r["ruleId"] for r in results}
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == address.lower() for r in results)
    assert run_cli("--address", address).returncode == 2  # --rpc is required


def test_explorer_errors_never_show_the_key(anvil: Anvil, receiver: tuple[str, str], explorer: str) -> None:
    address, _ = receiver
    broken = explorer.rsplit("/", 1)[0] + "/broken"  # answers HTTP 500
    for api in ("http://127.0.0.1:1/api", broken):
        with pytest.raises(ConfigError, match="explorer API") as caught:
            scan_address(address, anvil.url, SourceLocations(explorer_api=api, explorer_key="s3cret-key"), ScanOptions(use_cache=False))
        assert "s3cret-key" not in str(caught.value)


def test_proxy_address_scans_its_implementation_source(anvil: Anvil, receiver: tuple[str, str], receiver_build, tmp_path: Path) -> None:
    """Only the implementation is verified (as usual for proxies): scanning the proxy scans the implementation."""
    impl, _ = receiver
    proxy = deploy_proxy(anvil, impl, tmp_path)
    standard, contracts = receiver_build
    entry = tmp_path / "repo" / "full_match" / "31337" / to_checksum_address(impl)
    write_sourcify_entry(entry, standard, contracts["TrustingFlashReceiver"]["metadata"])
    report = scan_address(proxy, anvil.url, SourceLocations(sourcify=tmp_path / "repo"), ScanOptions(include=["wd-*"], use_cache=False))
    assert f"TrustingFlashReceiver at {impl.lower()}" in report.target
    assert sum(f.detector == "wd-flash-callback" for f in report.findings) == 2
    assert any(f.detector == "wd-bytecode-proxy" for f in report.findings)
