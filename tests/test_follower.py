"""The block follower on a real anvil: findings, reorgs, exactly-once commits, bad logs and rule crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from watchdog.chain.abi import AbiRegistry
from watchdog.chain.events import Log
from watchdog.devnet import Anvil
from watchdog.errors import ConfigError
from watchdog.store import Store
from watchdog.store.models import BlockRecord, Checkpoint

from fixtures.chain.chainkit import FLASH_TOPIC, TRANSFER_TOPIC, Chain, artifacts, calldata, findings, make_follower, values
from fixtures.chain.handler import CRASH_VALUE


def test_follows_transfers_and_flash_loans_of_any_emitter(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    chain.transfer(5)
    chain.burst(3)
    chain.forward(7)
    chain.flash(10_000)
    follower = make_follower(anvil, chain, tmp_path)
    seen: list[tuple[list, list]] = []
    follower.sinks.append(lambda new, retracted: seen.append((new, retracted)))
    follower.run_until()
    stored = findings(follower.store)
    assert values([r for r in stored if r.rule_id == "test.transfer"]) == [1, 2, 3, 5, 7]
    assert values([r for r in stored if r.rule_id == "test.flash"]) == [10_000]
    assert follower.checkpoint == anvil.block_number()
    assert sum(len(new) for new, _ in seen) == 6
    # Caught up: running again stores nothing twice and notifies nobody.
    follower.run_until()
    assert len(findings(follower.store)) == 6 and sum(len(new) for new, _ in seen) == 6


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_reorg_retracts_orphaned_findings_and_finds_the_new_branch(anvil: Anvil, tmp_path: Path, depth: int) -> None:
    chain = Chain(anvil)
    for value in range(1, 8):
        chain.transfer(value)  # one block each
    follower = make_follower(anvil, chain, tmp_path)
    retracted_seen: list = []
    follower.sinks.append(lambda new, retracted: retracted_seen.extend(retracted))
    follower.run_until()
    assert values(findings(follower.store)) == list(range(1, 8))
    head = anvil.block_number()

    # Replace the last `depth` blocks; the new branch carries other transfers.
    token_call = {"from": chain.sender, "to": chain.token}
    replacements = [[{**token_call, "data": chain_transfer_data(chain, 1000 + n)}, n] for n in range(depth)]
    anvil.rpc("anvil_reorg", [depth, replacements])
    assert anvil.block_number() == head
    follower.run_until()

    assert follower.metrics.reorgs.labels("local")._value.get() == 1
    orphaned = list(range(8 - depth, 8))
    assert values(findings(follower.store, "retracted")) == orphaned
    assert values(retracted_seen) == orphaned
    assert values(findings(follower.store, "active")) == sorted(list(range(1, 8 - depth)) + [1000 + n for n in range(depth)])
    with follower.store.session() as s:
        cp = s.get(Checkpoint, "local")
        assert cp.block_hash == anvil.rpc("eth_getBlockByNumber", ["latest", False])["hash"]
        hashes = {r.number: r.hash for r in s.exec(select(BlockRecord))}
    for number in range(head - depth + 1, head + 1):
        assert hashes[number] == anvil.rpc("eth_getBlockByNumber", [hex(number), False])["hash"]


def test_a_reorg_deeper_than_the_window_still_retracts_every_orphaned_finding(anvil: Anvil, tmp_path: Path,
                                                                            store_url: str) -> None:
    chain = Chain(anvil)
    for value in range(1, 9):
        chain.transfer(value)
    follower = make_follower(anvil, chain, tmp_path, store=Store(store_url), reorg_window=2)
    follower.run_until()
    token_call = {"from": chain.sender, "to": chain.token}
    anvil.rpc("anvil_reorg", [5, [[{**token_call, "data": chain_transfer_data(chain, 500)}, 0]]])
    follower.run_until()
    assert values(findings(follower.store, "retracted")) == [4, 5, 6, 7, 8]
    assert values(findings(follower.store, "active")) == [1, 2, 3, 500]


def chain_transfer_data(chain: Chain, value: int) -> str:
    return calldata("transfer(address,uint256)", ["address", "uint256"], [chain.accounts[1], value])


def test_a_bad_log_and_a_crashing_rule_do_not_stop_the_follower(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    chain.transfer(1)
    weird = chain.weird_log()    # Transfer topic that fits no ABI: kept raw
    chain.transfer(CRASH_VALUE)  # the rule raises on this block
    chain.transfer(2)
    follower = make_follower(anvil, chain, tmp_path)
    bundles = []
    on_block = follower.handler.on_block
    follower.handler.on_block = lambda bundle: bundles.append(bundle) or on_block(bundle)
    follower.run_until()
    assert values(findings(follower.store)) == [1, 2]
    [raw] = [log for b in bundles for log in b.logs if log.tx_hash == weird]
    assert raw.event is None and raw.args is None and raw.contract == "Weird" and raw.data == "0x"
    assert follower.checkpoint == anvil.block_number()
    assert follower.metrics.errors.labels("local", "rule")._value.get() == 1


def test_confirmations_hold_detection_back_and_bundles_carry_decoded_logs_and_txs(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(anvil)
    first = chain.transfer(10)
    indirect = chain.forward(20)
    chain.transfer(30)
    follower = make_follower(anvil, chain, tmp_path, confirmations=2)
    bundles = []
    on_block = follower.handler.on_block
    follower.handler.on_block = lambda bundle: bundles.append(bundle) or on_block(bundle)
    follower.run_until()
    assert follower.checkpoint == anvil.block_number() - 2
    assert values(findings(follower.store)) == [10]
    [bundle] = [b for b in bundles if first in b.txs]
    [log] = bundle.logs
    assert log.event == "Transfer" and log.contract == "Token" and log.args == {
        "from": chain.sender, "to": chain.accounts[1], "value": 10}
    assert bundle.txs[first].to == chain.token and bundle.reader.receipt(first)["status"] == "0x1"
    anvil.mine(2)
    follower.run_until()
    assert values(findings(follower.store)) == [10, 20, 30]
    [via_router] = [b for b in bundles if indirect in b.txs]
    assert via_router.txs[indirect].to == chain.router  # the tx behind a watched log, sent to another contract


def test_abi_registry_reads_forge_artifacts_and_abi_files_and_keeps_unknown_logs_raw(tmp_path: Path) -> None:
    out = tmp_path / "out" / "Contracts.sol"
    out.mkdir(parents=True)
    (out / "Lender.json").write_text(json.dumps({"abi": artifacts()["Lender"]["abi"], "bytecode": {}}))
    (out / "broken.json").write_text("{not json")
    (tmp_path / "token.json").write_text(json.dumps(artifacts()["Token"]["abi"]))
    registry = AbiRegistry()
    registry.add_artifacts(tmp_path / "out")
    registry.add_abi_file(tmp_path / "token.json", "0x00000000000000000000000000000000000000aa", "Token")
    word = lambda value: hex(value)[2:].rjust(64, "0")  # noqa: E731
    flash = Log(address="0x00000000000000000000000000000000000000bb", topics=(FLASH_TOPIC, "0x" + word(0xCAFE)),
                data="0x" + word(0xDD) + word(10**24) + word(9), block_number=1, block_hash="0x1", tx_hash="0x2",
                tx_index=0, log_index=0)
    registry.decode(flash)
    assert flash.event == "FlashLoan" and flash.contract is None
    assert flash.args == {"receiver": "0x" + "0" * 36 + "cafe", "token": "0x" + "0" * 38 + "dd", "amount": 10**24, "fee": 9}
    short = Log(address="0x00000000000000000000000000000000000000aa", topics=(TRANSFER_TOPIC,), data="0x",
                block_number=1, block_hash="0x1", tx_hash="0x3", tx_index=0, log_index=1)
    registry.decode(short)
    assert short.event is None and short.args is None and short.contract == "Token"
    with pytest.raises(ConfigError, match="is unreadable"):
        registry.add_abi_file(out / "broken.json")
