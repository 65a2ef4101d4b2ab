"""Bytecode verdicts (watchdog.detect.deployment) as scan report findings, for `watchdog scan --address`."""

from __future__ import annotations

from watchdog.detect.deployment import ScanVerdict
from watchdog.finding import Severity
from watchdog.scan.findings import ScanFinding

BYTECODE_HELP = {
    "wd-bytecode-exploit-profile": "Bytecode combines flash-loan callbacks with references to watched contracts",
    "wd-bytecode-flash-callback": "Bytecode implements flash-loan/flash-swap callbacks",
    "wd-bytecode-watched-address": "Bytecode or constructor arguments reference watched contracts",
    "wd-bytecode-escape-hatch": "Bytecode can SELFDESTRUCT, DELEGATECALL or CALLCODE",
    "wd-bytecode-proxy": "Contract is a proxy (EIP-1967 or EIP-1167)",
}


def verdict_findings(verdict: ScanVerdict) -> list[ScanFinding]:
    """The verdict as report findings (located at the address, line 1: there is no source)."""
    found: list[tuple[str, Severity, str]] = []
    if verdict.flash_callbacks and verdict.watched_references:
        found.append(("wd-bytecode-exploit-profile", verdict.severity, "; ".join(verdict.reasons)))
    if verdict.flash_callbacks:
        found.append(("wd-bytecode-flash-callback", Severity.MEDIUM, f"{verdict.address} implements {', '.join(verdict.flash_callbacks)}"))
    if verdict.watched_references:
        found.append(("wd-bytecode-watched-address", Severity.LOW, f"{verdict.address} references {', '.join(verdict.watched_references)}"))
    escape = [op for op in verdict.opcodes if op in ("SELFDESTRUCT", "DELEGATECALL", "CALLCODE")]
    if escape:
        found.append(("wd-bytecode-escape-hatch", Severity.LOW, f"{verdict.address} can {' / '.join(escape)}"))
    if verdict.proxy:
        found.append(("wd-bytecode-proxy", Severity.INFO, f"{verdict.address} is an {verdict.proxy['kind']} proxy to {verdict.proxy['implementation']}"))
    return [
        ScanFinding(
            detector=detector,
            severity=severity,
            confidence="medium",
            description=text,
            file=verdict.address,
            start_line=1,
            end_line=1,
            fingerprint=f"{detector}:{verdict.address}",
            help=BYTECODE_HELP[detector],
        )
        for detector, severity, text in found
    ]
