"""Start, stop and talk to a local anvil: free loopback port, readiness wait, no orphans."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from watchdog import toolchain
from watchdog.errors import RpcError, ToolchainError

# anvil's well-known development mnemonic: its keys are public test keys, never real funds.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """In a child before exec (anvil, a test server): the kernel kills it when this process dies, even by SIGKILL."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Anvil:
    """One anvil process on 127.0.0.1. Use as a context manager, or start()/stop().

    `detached=True` leaves anvil running after this process exits (for `watchdog devnet up`).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        chain_id: int = 31337,
        block_time: float | None = None,
        accounts: int = 10,
        load_state: Path | None = None,
        extra_args: tuple[str, ...] = (),
        log_path: Path | None = None,
        detached: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.chain_id = chain_id
        self.block_time = block_time
        self.accounts = accounts
        self.state_file = load_state
        self.extra_args = extra_args
        self.log_path = log_path
        self.detached = detached
        self.process: subprocess.Popen[bytes] | None = None
        self._client = httpx.Client(timeout=30.0)
        self._next_id = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(toolchain.tool("anvil")),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--mnemonic", DEV_MNEMONIC,
            "--order", "fees",
        ]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        return cmd + list(self.extra_args)

    def start(self, timeout: float = 30.0) -> "Anvil":
        if self.process is not None:
            return self
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=None if self.detached else die_with_parent,
        )
        self.wait_ready(timeout)
        if self.state_file:
            self.load_state(self.state_file)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ToolchainError(f"anvil exited at start with code {self.process.returncode}: is port {self.port} free?")
            try:
                self.rpc("eth_chainId")
                return
            except (httpx.HTTPError, RpcError):
                time.sleep(0.05)
        self.stop()
        raise ToolchainError(f"anvil did not answer on {self.url} within {timeout:.0f}s")

    def stop(self) -> None:
        """Stop anvil: SIGTERM, then SIGKILL after 5 s. Safe to call twice."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "Anvil":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._client.close()

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        """One JSON-RPC call; raises RpcError on an error answer."""
        self._next_id += 1
        body = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params or []}
        answer = self._client.post(self.url, json=body).json()
        if "error" in answer:
            raise RpcError(f"{method}: {answer['error'].get('message', answer['error'])}")
        return answer["result"]

    # --- conveniences used by tests, drills and the world deployer ---
    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def snapshot(self) -> str:
        return self.rpc("evm_snapshot")

    def revert(self, snapshot_id: str) -> bool:
        return bool(self.rpc("evm_revert", [snapshot_id]))

    def set_automine(self, enabled: bool) -> None:
        self.rpc("evm_setAutomine", [enabled])

    def dump_state(self, path: Path) -> None:
        """Write the chain state (hex blob from anvil_dumpState) to a file for --load-state."""
        Path(path).write_text(self.rpc("anvil_dumpState"))

    def load_state(self, path: Path) -> None:
        self.rpc("anvil_loadState", [Path(path).read_text().strip()])
