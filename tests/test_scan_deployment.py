"""suspicious-deployment: the drill attacker's deployment on the demo world is flagged by the rule engine
before the attacker's first call into the protocol (mined, and still pending); benign deployments that
merely use the protocol stay quiet, an arbitrage-style receiver stays below the pause threshold."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_abi import encode
from sqlmodel import select

from watchdog import toolchain
from watchdog.chain import parse
from watchdog.chain.events import BlockBundle, PendingTx
from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.config import parse_settings
from watchdog.daemon import Daemon
from watchdog.detect import Engine, Severity, selector
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.errors import ConfigError
from watchdog.scan import sources
from watchdog.store import FindingRecord, Store
from watchdog.scan.compiler import run_solc
from watchdog.scenarios.demo import deploy_flash_loan_attacker, send_flash_loan_spot_attack

FIXTURES = Path(__file__).parent / "fixtures" / "scan"
RULE = "suspicious-deployment"
FLAGGED = "suspicious-deployment.exploit-bytecode"
TRACER = {"tracer": "callTracer", "tracerConfig": {"withLog": True}}


def wait_receipt(node: Anvil, tx_hash: str) -> dict:
    for _ in range(200):  # automine answers with the hash before the receipt is indexed on a busy machine
        receipt = node.rpc("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            return receipt
        time.sleep(0.05)
    raise AssertionError(f"{tx_hash} not mined")


def bytecode_of(path: Path, contract: str) -> str:
    found = sources.load(path)
    group = found.groups[0]
    standard = group.standard_json(found.sources, found.remappings)
    standard["settings"]["outputSelection"] = {"*": {"*": ["evm.bytecode.object"]}}
    output = run_solc(standard, group.version, found.root, timeout=120)
    return next(c[contract]["evm"]["bytecode"]["object"] for c in output["contracts"].values() if contract in c)


def deploy_raw(node: Anvil, sender: str, init_code: str) -> dict:
    nonce = node.rpc("eth_getTransactionCount", [sender, "latest"])
    tx_hash = node.rpc("eth_sendTransaction", [{"from": sender, "data": "0x" + init_code, "gas": hex(5_000_000), "nonce": nonce}])
    return wait_receipt(node, tx_hash)


def engine_on_block(node: Anvil, world: World, number: int, tx_hashes: list[str], **params: object) -> list:
    """The engine on one block whose bundle carries the given transactions (creations included)."""
    rpc = RpcClient(node.url)
    raw = rpc.call("eth_getBlockByNumber", [hex(number), True])
    reader = BlockReader(rpc, "devnet", number)
    txs = {t.hash: t for t in map(parse.tx, raw["transactions"]) if t.hash in tx_hashes}
    engine = Engine("devnet", world.manifest, rules={RULE: params} if params else None)
    return [f for f in engine.on_block(BlockBundle("devnet", parse.block(raw), [], txs, reader)) if f.rule_id.startswith(RULE)]


@pytest.fixture
def chain(world: World, anvil: Anvil) -> tuple[World, Anvil]:
    return world, anvil


def test_drill_attacker_is_flagged_before_its_first_call(chain: tuple[World, Anvil]) -> None:
    world, node = chain
    attacker = deploy_flash_loan_attacker(world)
    deployment = next(
        r for r in (wait_receipt(node, h) for h in _txs_of_latest(node)) if (r["contractAddress"] or "").lower() == attacker.lower()
    )
    out = toolchain.PROJECT_ROOT / "contracts" / "out"  # the build the drill attacker was deployed from
    findings = engine_on_block(node, world, int(deployment["blockNumber"], 16), [deployment["transactionHash"]], artifacts=[str(out)])
    assert len(findings) == 1
    finding = findings[0]
    assert finding.evidence["source"].endswith("FlashLoanSpotAttacker.sol:FlashLoanSpotAttacker")
    assert finding.severity == Severity.HIGH and finding.key == attacker.lower()
    assert attacker.lower() in finding.addresses
    assert "executeOperation" in finding.evidence["flash_callbacks"]
    named = set(finding.evidence["watched_references"])
    assert {world.addresses["PerpMarket"].lower(), world.addresses["FlashLender"].lower()} <= named
    # The finding exists while the contract has made no call yet; the attack comes after it.
    attack = wait_receipt(node, send_flash_loan_spot_attack(world, attacker))
    assert int(attack["blockNumber"], 16) > finding.block_number


def _txs_of_latest(node: Anvil) -> list[str]:
    return node.rpc("eth_getBlockByNumber", ["latest", False])["transactions"]


def test_pending_attacker_deployment_is_flagged_before_it_is_mined(chain: tuple[World, Anvil]) -> None:
    """Simulated from the mempool (debug_traceCall), as the mempool follower does for pending transactions."""
    world, node = chain
    from watchdog.devnet import artifacts

    a = world.addresses
    args = encode(["address"] * 5, [a["FlashLender"], a["UniswapV2Router02"], a["WETH"], a["dUSD"], a["PerpMarket"]])
    init = artifacts.project("FlashLoanSpotAttacker").bytecode.removeprefix("0x") + args.hex()
    sender = world.accounts.attacker.address
    node.set_automine(False)
    try:
        tx_hash = node.rpc("eth_sendTransaction", [{"from": sender, "data": "0x" + init, "gas": hex(5_000_000)}])
        rpc = RpcClient(node.url)
        tx = parse.tx(rpc.call("eth_getTransactionByHash", [tx_hash]))
        assert tx.block_number is None  # still pending
        trace = parse.call_frame(rpc.call("debug_traceCall", [{"from": sender, "data": tx.input, "gas": hex(tx.gas)}, "latest", TRACER]), tx.hash)
        findings = [
            f for f in Engine("devnet", world.manifest).on_pending(PendingTx(tx=tx, trace=trace), BlockReader(rpc, "devnet"))
            if f.rule_id.startswith(RULE)
        ]
    finally:
        node.set_automine(True)
    assert len(findings) == 1 and findings[0].pending and findings[0].severity == Severity.HIGH and findings[0].rule_id == FLAGGED


def test_benign_integration_stays_quiet(chain: tuple[World, Anvil]) -> None:
    """A price consumer reading the protocol's feed names a watched contract but has no flash-loan callbacks."""
    world, node = chain
    init = bytecode_of(FIXTURES / "chainlink" / "Fixed.sol", "CheckedCollateralPricer")
    feed = next(e.address for e in world.manifest.contracts if e.role == "oracle_feed")
    receipt = deploy_raw(node, world.accounts.attacker.address, init + encode(["address"], [feed]).hex())
    assert engine_on_block(node, world, int(receipt["blockNumber"], 16), [receipt["transactionHash"]]) == []


def test_arbitrage_style_receiver_is_reported_below_the_pause_threshold(chain: tuple[World, Anvil]) -> None:
    """Flash-loan callbacks aimed at an AMM pair only (what arbitrage bots look like): medium, not high."""
    world, node = chain
    init = bytecode_of(FIXTURES / "flash_callback" / "Vulnerable.sol", "TrustingFlashReceiver")
    pair = next(e.address for e in world.manifest.contracts if e.role == "amm_pair")
    receipt = deploy_raw(node, world.accounts.attacker.address, init + encode(["address"], [pair]).hex())
    findings = engine_on_block(node, world, int(receipt["blockNumber"], 16), [receipt["transactionHash"]])
    assert [f.severity for f in findings] == [Severity.MEDIUM]


def test_internal_creation_through_a_watched_factory(chain: tuple[World, Anvil], tmp_path: Path) -> None:
    """CREATE inside a transaction: found in the trace of calls to watched deployers (or with trace_all)."""
    world, node = chain
    (tmp_path / "Factory.sol").write_text(
        "pragma solidity ^0.8.24;\ncontract Factory {\n"
        "    function make(bytes memory init) external returns (address made) {\n"
        "        assembly { made := create(0, add(init, 0x20), mload(init)) }\n"
        "        require(made != address(0), \"create failed\");\n    }\n}\n"
    )
    sender = world.accounts.attacker.address
    factory = deploy_raw(node, sender, bytecode_of(tmp_path / "Factory.sol", "Factory"))["contractAddress"]
    receiver = bytecode_of(FIXTURES / "flash_callback" / "Vulnerable.sol", "TrustingFlashReceiver")
    init = bytes.fromhex(receiver) + encode(["address"], [world.addresses["PerpMarket"]])
    call = selector("make(bytes)") + encode(["bytes"], [init]).hex()
    nonce = node.rpc("eth_getTransactionCount", [sender, "latest"])
    receipt = wait_receipt(node, node.rpc("eth_sendTransaction", [{"from": sender, "to": factory, "data": call, "gas": hex(5_000_000), "nonce": nonce}]))
    assert int(receipt["status"], 16) == 1
    number, tx_hash = int(receipt["blockNumber"], 16), receipt["transactionHash"]
    assert engine_on_block(node, world, number, [tx_hash]) == []  # not a watched deployer: no trace is taken
    for params in ({"watched_deployers": [factory]}, {"trace_all": True}):
        findings = engine_on_block(node, world, number, [tx_hash], **params)
        # it names the market alone, not a price the market reads: the medium preparation of an incident
        assert [(f.severity, f.evidence["creation"]) for f in findings] == [(Severity.MEDIUM, "created internally")], params


def test_bad_min_severity_is_a_config_error(world: World) -> None:
    with pytest.raises(ConfigError, match="rules.suspicious-deployment.min_severity: 'severe' is not one of"):
        Engine("devnet", world.manifest, rules={RULE: {"min_severity": "severe"}})



def following_daemon(world: World, node: Anvil, tmp_path: Path) -> Daemon:
    """The production daemon with the default rules, following the demo world from the next block."""
    settings = parse_settings({
        "networks": {"devnet": {"chain_id": node.chain_id, "rpc_urls": [node.url], "start_block": node.block_number() + 1}},
        "protocols": {"demo": {"manifest": str(world.manifest_path)}},
        "metrics": {"enabled": False},
    }, "test config", tmp_path)
    return Daemon(settings, store=Store(f"sqlite:///{tmp_path / 'wd.db'}"))


def stored(daemon: Daemon) -> list[FindingRecord]:
    with daemon.store.session() as s:
        return list(s.exec(select(FindingRecord).where(FindingRecord.rule_id == FLAGGED)).all())


def test_daemon_flags_the_attacker_deployment_before_its_first_call(chain: tuple[World, Anvil], tmp_path: Path) -> None:
    """The live path: the block follower hands the creation to the rules, and the finding is stored while
    the attacker contract has not yet called the protocol."""
    world, node = chain
    daemon = following_daemon(world, node, tmp_path)
    attacker = deploy_flash_loan_attacker(world)
    daemon.run_once()
    (flagged,) = stored(daemon)
    assert flagged.severity == "high" and attacker.lower() in flagged.addresses
    attack = wait_receipt(node, send_flash_loan_spot_attack(world, attacker))
    assert int(attack["blockNumber"], 16) > flagged.block_number


def test_daemon_stays_quiet_on_a_benign_deployment(chain: tuple[World, Anvil], tmp_path: Path) -> None:
    world, node = chain
    daemon = following_daemon(world, node, tmp_path)
    init = bytecode_of(FIXTURES / "chainlink" / "Fixed.sol", "CheckedCollateralPricer")
    feed = next(e.address for e in world.manifest.contracts if e.role == "oracle_feed")
    deploy_raw(node, world.accounts.trader1.address, init + encode(["address"], [feed]).hex())
    daemon.run_once()
    assert stored(daemon) == []


def test_a_suspicious_deployment_gets_a_full_source_scan_in_the_background(chain: tuple[World, Anvil], tmp_path: Path) -> None:
    """The daemon's deployment scans: the source is found in the local forge build, slither and watchdog's detectors
    run on it, and their findings join the stored finding's evidence."""
    from watchdog.config import parse_settings
    from watchdog.daemon.deployments import DeploymentScans
    from watchdog.store import FindingRecord, Store, ledger

    world, node = chain
    attacker = deploy_flash_loan_attacker(world)
    deployment = next(r for r in (wait_receipt(node, h) for h in _txs_of_latest(node))
                      if (r["contractAddress"] or "").lower() == attacker.lower())
    [finding] = engine_on_block(node, world, int(deployment["blockNumber"], 16), [deployment["transactionHash"]])
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    with store.session() as s:
        [record] = ledger.store_findings(s, [finding])
    settings = parse_settings({"networks": {"devnet": {"chain_id": node.chain_id, "rpc_urls": [node.url]}},
                               "scan": {"artifacts": [str(toolchain.PROJECT_ROOT / "contracts" / "out")]}}, "test", tmp_path)
    scans = DeploymentScans(settings, store)
    scans([record], [])
    scans.wait(600)
    scans.close()
    with store.session() as s:
        scanned = s.get(FindingRecord, record.id).evidence["source_scan"]
    assert scanned["source"].startswith(attacker.lower()) and "FlashLoanSpotAttacker" in scanned["source"]
    detectors = {f["detector"] for f in scanned["findings"]}
    assert detectors and all(f["location"].startswith("src/drill/FlashLoanSpotAttacker.sol") or f["contract"] for f in scanned["findings"])
    assert any(d.startswith("wd-") for d in detectors)  # watchdog's own detectors ran beside slither's
