"""Full source scans of suspicious new deployments, in the background: the bytecode verdict is the immediate
answer (the suspicious-deployment rule, in the block itself); when the contract's source can be found (forge
artifacts, a Sourcify-format folder, an explorer API), slither and watchdog's detectors run on it in a time- and
memory-limited child process, and their findings join the deployment finding's evidence in the store."""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor

from watchdog.config.settings import ScanConfig, Settings
from watchdog.errors import WatchdogError
from watchdog.scan.address import SourceLocations, scan_address
from watchdog.scan.scanner import ScanOptions
from watchdog.store import FindingRecord, Store, ledger

log = logging.getLogger("watchdog.deployments")

RULE = "suspicious-deployment"


class DeploymentScans:
    """A sink: `sink(new, retracted)`; each new deployment finding gets one source scan on a worker thread."""

    def __init__(self, settings: Settings, store: Store) -> None:
        config: ScanConfig = settings.scan
        self.store = store
        self.rpc_urls = {name: net.rpc_urls[0] for name, net in settings.networks.items()}
        self.where = SourceLocations(
            artifacts=[settings.path(p) for p in config.artifacts],
            sourcify=settings.path(config.sourcify) if config.sourcify else None,
            explorer_api=config.explorer_api,
            explorer_key=os.environ.get(config.explorer_key_env) if config.explorer_key_env else None)
        self.options = ScanOptions(timeout=config.timeout, max_memory_mb=config.max_memory_mb)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deployment-scan")
        self.futures: list[Future[None]] = []

    def __call__(self, new: list[FindingRecord], retracted: list[FindingRecord]) -> None:
        for record in new:
            if record.rule_id.partition(".")[0] == RULE and record.evidence.get("address") and record.id is not None:
                self.futures.append(self._pool.submit(self._scan, record.id, record.network, record.evidence["address"]))

    def wait(self, timeout: float | None = None) -> None:
        for future in list(self.futures):
            future.result(timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _scan(self, finding_id: int, network: str, address: str) -> None:
        try:
            report = scan_address(address, self.rpc_urls[network], self.where, self.options)
            if report.target.endswith("(no source found: bytecode checks only)"):
                result = {"source": None}
            else:
                ours = [f for f in report.findings if not f.detector.startswith("wd-bytecode")]
                result = {"source": report.target, "findings": [
                    {"detector": f.detector, "severity": f.severity.value, "description": f.description,
                     "location": f"{f.file}:{f.start_line}", "contract": f.contract, "function": f.function}
                    for f in ours]}
        except WatchdogError as exc:  # a compiler error, a limit reached, the node gone: said, never fatal
            result = {"error": str(exc)}
        except Exception as exc:
            log.exception("source scan of %s failed", address)
            result = {"error": f"{type(exc).__name__}: {exc}"}
        with self.store.session() as s:
            ledger.add_evidence(s, finding_id, "source_scan", result)
        log.info("source scan of %s: %s", address, result.get("source") or result.get("error") or "no source found",
                 extra={"address": address, "findings": len(result.get("findings", []))})
