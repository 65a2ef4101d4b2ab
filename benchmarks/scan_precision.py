#!/usr/bin/env python3
"""Precision of watchdog's detectors on audited code, and their cost against plain slither.

Run from the project root:  .venv/bin/python benchmarks/scan_precision.py [--codebase NAME] [--no-timing]
Scans audited codebases installed from npm (sources pinned in package.json): OpenZeppelin Contracts, Aave V3
core, Uniswap V2 core and periphery, Uniswap V3 core, Balancer V2 vault, Chainlink. Per codebase it prints
lines of Solidity, watchdog's findings by detector and severity, and the wall time of `watchdog scan` (all
stock detectors plus watchdog's) against plain `slither` on the same sources (one run each, as a ratio).

Every medium or high finding of watchdog's detectors is triaged, true or false positive with a one-line
reason, in benchmarks/scan_triage.json. A finding that is not in that table, or a triaged one that is no
longer found, is printed as a diff; the script then exits 1, as it does when a precision target is missed:
no high finding triaged false, at most one false medium per 10,000 lines of code. The time target
(watchdog <= 1.3 x plain slither) is reported, not enforced: timings on a shared machine are noisy.
`--record` adds untriaged findings to the table with an empty verdict, for a person to fill in.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog import toolchain
from watchdog.scan.findings import ScanFinding
from watchdog.scan.scanner import ScanOptions, scan_path
from watchdog.scan import sources
from watchdog.scan.sources import strip_comments

ROOT = toolchain.PROJECT_ROOT
TRIAGE = ROOT / "benchmarks" / "scan_triage.json"
TRIAGED = ("medium", "high", "critical")
# Test code, mocks, examples and unreleased (dev) code are not what was audited.
NOT_AUDITED = ("test", "tests", "mocks", "testhelpers", "dev", "examples", "build", "artifacts", "abi")
MAX_SOURCE_BYTES = 64 * 1024 * 1024
TARGETS = {"false_high": 0, "false_medium_per_10k_lines": 1.0, "time_ratio": 1.3}


@dataclass(frozen=True)
class Codebase:
    name: str
    package: str  # folder under node_modules
    folders: tuple[str, ...]  # scanned folders inside the package
    vendored: tuple[str, ...] = ()  # folders analysed with the rest but neither counted nor reported (third-party code)
    note: str = ""

    def counts(self, file: str) -> bool:
        return not any(file.startswith(f"{prefix}/") for prefix in self.vendored)


CODEBASES = (
    Codebase("uniswap-v2-core", "@uniswap/v2-core", ("contracts",)),
    Codebase("uniswap-v2-periphery", "@uniswap/v2-periphery", ("contracts",)),
    Codebase(
        "uniswap-v3-core", "@uniswap/v3-core", ("contracts",),
        note="the npm package ships the libraries and interfaces as sources; UniswapV3Pool, UniswapV3Factory, "
        "UniswapV3PoolDeployer and NoDelegateCall come as compiled artifacts only, so they are not scanned",
    ),
    Codebase("balancer-v2-vault", "@balancer-labs/v2-vault", ("contracts",)),
    Codebase(
        "aave-v3-core", "@aave/core-v3", ("contracts",), vendored=("contracts/dependencies",),
        note="contracts/dependencies (vendored OpenZeppelin, Gnosis, Chainlink, WETH) is analysed but not counted; "
        "contracts/mocks is not scanned",
    ),
    Codebase(
        "openzeppelin-contracts", "@openzeppelin/contracts",
        ("access", "account", "finance", "governance", "interfaces", "metatx", "proxy", "token", "utils"),
        note="vendor/ (third-party code) is not scanned",
    ),
    Codebase(
        "chainlink-contracts", "@chainlink/contracts",
        ("src/v0.8/shared", "src/v0.8/llo-feeds", "src/v0.8/keystone", "src/v0.8/operatorforwarder"),
        note="the released v0.8 products for feeds and forwarding: shared (ownership, tokens), llo-feeds (Data "
        "Streams verifier and fees), keystone, operatorforwarder; test, mocks and dev folders are not scanned",
    ),
)

def code_lines(text: str) -> int:
    """Lines with code: not blank, not only a comment."""
    return sum(1 for line in strip_comments(text).splitlines() if line.strip())


def prepare(codebase: Codebase, work: Path) -> Path:
    """A copy of the package's sources without tests, mocks and build output, laid out as a Hardhat project
    (its own node_modules beside it) so that package imports resolve as they do for its authors."""
    package = toolchain.node_modules() / codebase.package
    project = work / codebase.name
    shutil.copytree(package, project, ignore=shutil.ignore_patterns(*NOT_AUDITED, "node_modules", "*.json", "*.md"))
    if (package / "node_modules").is_dir():
        (project / "node_modules").symlink_to(package / "node_modules")
    (project / "hardhat.config.js").write_text("module.exports = {};\n")
    return project


def version_of(codebase: Codebase) -> str:
    return json.loads((toolchain.node_modules() / codebase.package / "package.json").read_text())["version"]


def plain_slither(target: Path, project: Path) -> tuple[float, str | None]:
    """Wall time of the slither command on the same sources: one standard-JSON input per compiler group (as
    watchdog groups them; slither's own folder mode only compiles a folder's top-level files), compiled by
    crytic-compile with its full output (bytecode and source maps) through the same solc-js shim."""
    found = sources.load(target, max_source_bytes=MAX_SOURCE_BYTES)
    _link_packages(found, project)
    seconds, errors = 0.0, []
    for index, group in enumerate(found.groups):
        data = group.standard_json(found.sources, found.remappings)
        data["settings"].pop("outputSelection")  # crytic-compile asks for everything, as slither usually does
        # With code generation, the optimizer (on in these projects' own builds) avoids "stack too deep".
        data["settings"]["optimizer"] = {"enabled": True, "runs": 200}
        request = project / f".plain-{target.name}-{index}.json"
        request.write_text(json.dumps(data))
        report = request.with_suffix(".out.json")
        env = {**toolchain.tool_env(), "WATCHDOG_SOLC_VERSION": group.version}
        started = time.monotonic()
        proc = subprocess.run(
            [str(toolchain.python_script("slither")), str(request), "--compile-force-framework", "solc-json",
             "--solc", str(toolchain.solc()), "--json", str(report)],
            cwd=project, env=env, capture_output=True, text=True, timeout=3600,
        )
        seconds += time.monotonic() - started
        result = json.loads(report.read_text()) if report.is_file() else {}
        if not result.get("success"):
            errors.append(result.get("error") or (proc.stderr.strip().splitlines() or ["no report"])[-1])
    return seconds, "; ".join(errors) or None


def _link_packages(found: sources.SourceSet, project: Path) -> None:
    """crytic-compile looks every source unit up on disk from the working folder: make npm imports
    (`@scope/package/...`) resolvable there, as links to the packages the scanner resolved them to."""
    for unit, source in found.sources.items():
        parts = unit.split("/")
        if (project / unit).exists() or unit.startswith(".") or len(parts) < 3:
            continue
        depth = 2 if parts[0].startswith("@") else 1
        link = project.joinpath(*parts[:depth])
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source.path.parents[len(parts) - 1 - depth])


def measure(codebase: Codebase, work: Path, timing: bool) -> tuple[dict, list[ScanFinding]]:
    project = prepare(codebase, work)
    findings: list[ScanFinding] = []
    files = lines = code = 0
    compilers: dict[str, int] = {}
    ours_s = plain_s = stock_s = 0.0
    plain_errors = []
    for folder in codebase.folders:
        target = project / folder
        for source in target.rglob("*.sol"):
            if not codebase.counts(source.relative_to(project).as_posix()):
                continue
            text = source.read_text(errors="replace")
            files, lines, code = files + 1, lines + text.count("\n"), code + code_lines(text)
        options = {"use_cache": False, "timeout": 3600, "max_source_mb": MAX_SOURCE_BYTES >> 20}
        report = scan_path(target, ScanOptions(**options))
        ours_s += report.seconds
        for version, targets in report.compilers.items():
            compilers[version] = compilers.get(version, 0) + len(targets)
        findings += [f for f in report.findings if f.ours and codebase.counts(f.file)]
        if timing:
            stock_s += scan_path(target, ScanOptions(**options, exclude=["wd-*"])).seconds
            seconds, error = plain_slither(target, project)
            plain_s += seconds
            if error:
                plain_errors.append(f"{folder}: {error}")
    by_detector: dict[str, dict[str, int]] = {}
    for f in findings:
        counts = by_detector.setdefault(f.detector, {})
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    row = {
        "codebase": codebase.name,
        "package": f"{codebase.package}@{version_of(codebase)}",
        "folders": list(codebase.folders),
        "files": files,
        "lines": lines,
        "code_lines": code,
        "compilers": compilers,
        "findings": by_detector,
        "watchdog_s": round(ours_s, 1),
    }
    if timing:
        row["plain_slither_s"] = round(plain_s, 1)
        row["time_ratio"] = round(ours_s / plain_s, 2) if plain_s and not plain_errors else None
        row["plain_slither_errors"] = plain_errors
        row["watchdog_stock_only_s"] = round(stock_s, 1)
        row["our_detectors_overhead"] = round(ours_s / stock_s, 2) if stock_s else None
    if codebase.note:
        row["note"] = codebase.note
    return row, findings


def triage_key(f: ScanFinding) -> dict:
    where = ".".join(part for part in (f.contract, f.function) if part)
    return {"fingerprint": f.fingerprint, "detector": f.detector, "severity": f.severity.value, "file": f.file, "where": where}


def compare(codebase: str, findings: list[ScanFinding], table: dict) -> tuple[dict, list[str]]:
    """Verdict counts for this codebase's medium+ findings, and the diff against the triage table."""
    triaged = {entry["fingerprint"]: entry for entry in table.get(codebase, [])}
    found = {f.fingerprint: f for f in findings if f.severity.value in TRIAGED}
    diff = [
        f"+ {codebase}: {f.severity.value} {f.detector} {triage_key(f)['where']} ({f.file}) [{fp}] not triaged"
        for fp, f in found.items() if fp not in triaged or triaged[fp].get("verdict") not in ("true", "false")
    ]
    diff += [
        f"- {codebase}: {e['severity']} {e['detector']} {e['where']} ({e['file']}) [{fp}] triaged but no longer found"
        for fp, e in triaged.items() if fp not in found
    ]
    verdicts = {"true": {}, "false": {}}
    for fp, f in found.items():
        verdict = triaged.get(fp, {}).get("verdict")
        if verdict in verdicts:
            verdicts[verdict][f.severity.value] = verdicts[verdict].get(f.severity.value, 0) + 1
    return verdicts, diff


def record(codebase: str, findings: list[ScanFinding], table: dict) -> None:
    """Add untriaged medium+ findings with an empty verdict and drop entries no longer found."""
    found = {f.fingerprint: f for f in findings if f.severity.value in TRIAGED}
    kept = [e for e in table.get(codebase, []) if e["fingerprint"] in found]
    known = {e["fingerprint"] for e in kept}
    kept += [{**triage_key(f), "verdict": "", "reason": ""} for fp, f in found.items() if fp not in known]
    table[codebase] = sorted(kept, key=lambda e: (e["file"], e["where"], e["detector"]))


def run(names: list[str], timing: bool, write: bool = False) -> tuple[dict, list[str]]:
    table = json.loads(TRIAGE.read_text()) if TRIAGE.is_file() else {}
    chosen = [c for c in CODEBASES if not names or c.name in names]
    rows, diffs = [], []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scan-precision-") as tmp:
        for codebase in chosen:
            row, findings = measure(codebase, Path(tmp), timing)
            if write:
                record(codebase.name, findings, table)
            verdicts, diff = compare(codebase.name, findings, table)
            false_medium = verdicts["false"].get("medium", 0)
            row["triage"] = verdicts
            row["false_medium_per_10k_lines"] = round(false_medium * 10_000 / max(row["code_lines"], 1), 2)
            rows.append(row)
            diffs += diff
    if write:
        TRIAGE.write_text(json.dumps(table, indent=1) + "\n")
    code = sum(r["code_lines"] for r in rows)
    false_high = sum(r["triage"]["false"].get(s, 0) for r in rows for s in ("high", "critical"))
    false_medium = sum(r["triage"]["false"].get("medium", 0) for r in rows)
    ratios = [r["time_ratio"] for r in rows if r.get("time_ratio") is not None]
    met = {
        "false_high": false_high <= TARGETS["false_high"],
        "false_medium_per_10k_lines": false_medium * 10_000 / max(code, 1) <= TARGETS["false_medium_per_10k_lines"],
    }
    if timing:
        met["time_ratio"] = bool(ratios) and max(ratios) <= TARGETS["time_ratio"]
    result = {
        "benchmark": "scan_precision",
        "codebases": rows,
        "total": {
            "code_lines": code,
            "false_high": false_high,
            "false_medium": false_medium,
            "false_medium_per_10k_lines": round(false_medium * 10_000 / max(code, 1), 2),
            "seconds": round(time.monotonic() - started, 1),
        },
        "targets": TARGETS,
        "targets_met": met,
        "triage_diff": diffs,
    }
    return result, diffs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codebase", action="append", default=[], choices=[c.name for c in CODEBASES],
                        help="only this codebase (repeatable; default: all)")
    parser.add_argument("--no-timing", action="store_true", help="skip the plain slither runs")
    parser.add_argument("--record", action="store_true", help="add untriaged findings to the triage table")
    args = parser.parse_args()
    result, diffs = run(args.codebase, timing=not args.no_timing, write=args.record)
    print(json.dumps(result, indent=2))
    for line in diffs:
        print(line, file=sys.stderr)
    precision_met = result["targets_met"]["false_high"] and result["targets_met"]["false_medium_per_10k_lines"]
    sys.exit(0 if not diffs and precision_met else 1)


if __name__ == "__main__":
    main()
