"""`watchdog scan --address`: the deployed contract's source when it can be found (then a full source
scan), and in any case the bytecode verdict."""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.errors import ConfigError, RpcError
from watchdog.scan.deployment import scan_deployment, verdict_findings
from watchdog.scan.resolve import SourceLocations, resolve
from watchdog.scan.scanner import ScanOptions, ScanReport, scan_path

__all__ = ["SourceLocations", "scan_address"]

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def scan_address(
    address: str, rpc_url: str, where: SourceLocations, options: ScanOptions, *, watched: set[str] = frozenset()
) -> ScanReport:
    if not ADDRESS.match(address):
        raise ConfigError(f"--address {address!r} is not a 20-byte hex address (0x followed by 40 hex digits)")
    started = time.monotonic()
    rpc = RpcClient(rpc_url, retries=1)
    try:
        reader = BlockReader(rpc, "scan")
        code = reader.code(address)
        if not code or code == "0x":
            raise RpcError(f"no contract code at {address} on {rpc_url}: check the address and the network")
        chain_id = int(rpc.call("eth_chainId"), 16)
        verdict = scan_deployment(reader, address, {w.lower() for w in watched})
    finally:
        rpc.close()
    from_bytecode = verdict_findings(verdict)
    with tempfile.TemporaryDirectory(prefix="watchdog-source-") as workdir:
        source = resolve(code, address.lower(), chain_id, where, Path(workdir))
        if source is None:
            return ScanReport(
                target=f"{address} (no source found: bytecode checks only)",
                root=Path.cwd(),
                findings=from_bytecode,
                compilers={},
                seconds=time.monotonic() - started,
            )
        report = scan_path(source.target, options)
    return replace(
        report,
        target=f"{address} ({source.contract or source.target.name}, source from {source.origin})",
        findings=[*report.findings, *from_bytecode],
        seconds=time.monotonic() - started,
    )
