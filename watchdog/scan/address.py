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
from watchdog.detect.deployment import scan_deployment
from watchdog.scan.deployment import verdict_findings
from watchdog.scan.resolve import SourceLocations, resolve
from watchdog.scan.scanner import ScanOptions, ScanReport, scan_path

__all__ = ["SourceLocations", "scan_address"]

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def scan_address(
    address: str, rpc_url: str, where: SourceLocations, options: ScanOptions, *, watched: set[str] = frozenset()
) -> ScanReport:
    """Scan the source of the contract at `address` (and of its implementation, for a proxy) when it can be
    found, plus the bytecode verdict."""
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
        contracts = [(address.lower(), code)]
        if verdict.proxy:  # the logic lives behind the proxy: its source matters most
            implementation = verdict.proxy["implementation"]
            contracts.append((implementation, reader.code(implementation)))
    finally:
        rpc.close()
    findings = verdict_findings(verdict)
    found: list[str] = []
    reports: list[ScanReport] = []
    with tempfile.TemporaryDirectory(prefix="watchdog-source-") as workdir:
        for where_at, runtime in contracts:
            source = resolve(runtime, where_at, chain_id, where, Path(workdir)) if runtime and runtime != "0x" else None
            if source is not None:
                reports.append(scan_path(source.target, options))
                found.append(f"{source.contract or source.target.name} at {where_at}, source from {source.origin}")
    if not reports:
        return ScanReport(
            target=f"{address} (no source found: bytecode checks only)",
            root=Path.cwd(),
            findings=findings,
            compilers={},
            seconds=time.monotonic() - started,
        )
    compilers: dict[str, list[str]] = {}
    for report in reports:
        for version, files in report.compilers.items():
            compilers.setdefault(version, []).extend(files)
    return replace(
        reports[0],
        target=f"{address} ({'; '.join(found)})",
        findings=[f for report in reports for f in report.findings] + findings,
        compilers=compilers,
        seconds=time.monotonic() - started,
    )
