"""`watchdog replay`: run the rules over history (one tx, one block or a range) and print the findings.

The replay drives the same follower and rule engine as `watchdog run`, against a throw-away store, so it
reports what the live daemon stores for those blocks (rule state starts empty at the first block).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from watchdog.chain.capabilities import ZERO
from watchdog.chain.parse import quantity
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.cli.app import app
from watchdog.config import Settings, command_settings
from watchdog.errors import ConfigError
from watchdog.store import FindingRecord, Store, ledger



def _span(rpc, tx: str | None, block: int | None, span: str | None) -> tuple[int, int]:
    given = [x is not None for x in (tx, block, span)]
    if sum(given) != 1:
        raise ConfigError("say what to replay: exactly one of --tx HASH, --block N, --range A:B")
    if tx is not None:
        if not re.fullmatch(r"0x[0-9a-f]{64}", tx):
            raise ConfigError(f"--tx {tx[:80]}: not a transaction hash (0x and 64 hex digits)")
        receipt = rpc.call("eth_getTransactionReceipt", [tx])
        if receipt is None:
            raise ConfigError(f"--tx {tx}: the node does not know this transaction (wrong network, or not mined)")
        number = quantity(receipt.get("blockNumber") if isinstance(receipt, dict) else None, "the receipt's blockNumber")
        return number, number
    if block is not None:
        if block < 0:
            raise ConfigError(f"--block {block}: a block number is 0 or more")
        return block, block
    try:
        first, last = (int(x) for x in span.split(":"))  # type: ignore[union-attr]
    except ValueError:
        raise ConfigError(f"--range {span!r}: write it as A:B with block numbers, e.g. 100:200") from None
    if first < 0 or last < first:
        raise ConfigError(f"--range {span}: the first block must be >= 0 and <= the last")
    return first, last


def _check_node(rpc: RpcClient, first: int, last: int) -> None:
    """The node must have the blocks and the state before them: otherwise every rule's read would fail and the
    replay would say "no findings" about blocks it never judged."""
    head = quantity(rpc.call("eth_blockNumber"), "eth_blockNumber")
    if last > head:
        raise ConfigError(f"block {last} is past the node's head {head}: replay blocks up to {head}")
    before = max(first - 1, 0)
    try:
        rpc.call("eth_getBalance", [ZERO, hex(before)])
    except RpcAnswerError as exc:
        raise ConfigError(f"the node has no state for block {before} ({exc.message}): replay recent blocks, or use an "
                          "archive node (`watchdog doctor --rpc URL` shows what a node keeps)") from None


def replay_findings(settings: Settings, network: str, first: int, last: int) -> list[FindingRecord]:
    """Follow [first, last] with the daemon's follower and rule engine into a temporary store."""
    from watchdog.daemon.core import Daemon  # the daemon's wiring, so replay and live see the same things

    net = settings.networks[network]
    net.start_block, net.confirmations = first, 0
    net.backfill = "complete"  # every block of the range is judged, with or without watched logs
    with tempfile.TemporaryDirectory(prefix="watchdog-replay-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'replay.db'}")
        try:
            daemon = Daemon(settings, store=store)
            daemon.networks[network].follower.run_until(last)
            with store.session() as s:
                return ledger.findings_by_block(s)
        finally:
            store.close()


def _row(record: FindingRecord) -> dict:
    return record.model_dump(mode="json", exclude={"id", "created_at", "incident_id", "status"})


@app.command()
def replay(
    config: Path = typer.Option(None, "--config", "-c", help="TOML config (default: ./watchdog.toml)."),
    manifest: Path = typer.Option(None, help="Without a config: the deployment manifest to watch."),
    rpc: str = typer.Option(None, help="Without a config: JSON-RPC URL of an archive-capable node."),
    tx: str = typer.Option(None, "--tx", help="Replay the block of this transaction; print its findings."),
    block: int = typer.Option(None, "--block", help="Replay one block."),
    span: str = typer.Option(None, "--range", help="Replay blocks A:B (inclusive)."),
    network: str = typer.Option(None, help="Network name from the config (needed when it has several)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as a JSON list."),
) -> None:
    """Run the rules over history and print the findings (for writing and testing rules)."""
    settings = command_settings(config, manifest, [rpc] if rpc else [])
    if network is None:
        if len(settings.networks) > 1:
            raise ConfigError(f"the config has several networks: pick one with --network ({', '.join(settings.networks)})")
        network = next(iter(settings.networks))
    elif network not in settings.networks:
        raise ConfigError(f"--network {network}: not in the config; use one of {', '.join(settings.networks)}")
    net = settings.networks[network]
    client = RpcClient(net.rpc_urls, timeout=net.timeout, max_answer_bytes=net.max_answer_bytes)
    try:
        first, last = _span(client, tx.lower() if tx else None, block, span)
        _check_node(client, first, last)
    finally:
        client.close()
    records = replay_findings(settings, network, first, last)
    if tx is not None:
        records = [r for r in records if r.tx_hash == tx.lower()]
    if as_json:
        typer.echo(json.dumps([_row(r) for r in records], indent=1))
        return
    console = Console()
    if not records:
        console.print(f"no findings in blocks {first}..{last}")
        return
    table = Table("block", "tx", "rule", "severity", "title", title=f"{len(records)} finding(s) in blocks {first}..{last}")
    for r in records:
        table.add_row(str(r.block_number), (r.tx_hash or "")[:12], r.rule_id, r.severity, r.title)
    console.print(table)
