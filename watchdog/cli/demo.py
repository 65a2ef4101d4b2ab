"""`watchdog demo`: the main job that `make demo` runs."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from watchdog.cli.app import app
from watchdog.devnet import Anvil


@app.command()
def demo(blocks: int = typer.Option(5, help="How many blocks to follow before stopping.")) -> None:
    """Bring up a local devnet and follow its new blocks."""
    console = Console()
    with Anvil(block_time=1) as node:
        console.print(f"devnet up at {node.url}")
        seen = node.block_number()
        while seen < blocks:
            head = node.block_number()
            for number in range(seen + 1, head + 1):
                block = node.rpc("eth_getBlockByNumber", [hex(number), False])
                console.print(f"block {number} {block['hash'][:18]}… {len(block['transactions'])} txs")
            seen = head
            time.sleep(0.2)
    console.print("devnet down")
