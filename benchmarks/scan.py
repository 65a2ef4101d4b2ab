#!/usr/bin/env python3
"""Scan benchmark: `watchdog scan` (cold and cached) against plain slither on the same sources, in one run.

Run from the project root:  .venv/bin/python benchmarks/scan.py [--repeat 1]
Prints one JSON object. Targets: the scanner's test fixtures (a plain folder: plain slither compiles it
with --solc-standard-json) and a copy of contracts/ (a Foundry project: plain slither builds it with forge).
Both tools run every stock slither detector; watchdog adds its own. Figures are wall-clock seconds on a
shared machine: compare them as ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from watchdog import toolchain
from watchdog.scan.scanner import ScanOptions, scan_path

ROOT = toolchain.PROJECT_ROOT
FIXTURES = ROOT / "tests" / "fixtures" / "scan"


def _plain_slither(target: Path, extra: list[str], cwd: Path) -> tuple[float, int, str | None]:
    out = cwd / "plain.json"
    started = time.monotonic()
    subprocess.run(
        [str(toolchain.python_script("slither")), str(target), *extra, "--json", str(out)],
        cwd=cwd, env=toolchain.tool_env(), capture_output=True, timeout=1800,
    )
    seconds = time.monotonic() - started
    if not out.is_file():
        return seconds, 0, "plain slither produced no report"
    report = json.loads(out.read_text())
    out.unlink()
    return seconds, len(report.get("results", {}).get("detectors", [])), report.get("error")


def _watchdog(target: Path, cache: Path) -> dict:
    cold = scan_path(target, ScanOptions(cache_dir=cache))
    warm = scan_path(target, ScanOptions(cache_dir=cache))
    return {
        "cold_s": round(cold.seconds, 3),
        "cached_s": round(warm.seconds, 3),
        "findings": len(cold.findings),
        "watchdog_findings": sum(f.ours for f in cold.findings),
        "compilers": {v: len(files) for v, files in cold.compilers.items()},
    }


def _fixtures_folder(work: Path) -> Path:
    """The fixture pairs that share one compiler, flattened: plain slither compiles the top-level files of a
    folder in one solc run."""
    folder = work / "fixtures"
    folder.mkdir()
    for source in sorted(FIXTURES.glob("*/*.sol")):
        if "0.8.20" not in source.read_text():
            shutil.copy(source, folder / f"{source.parent.name}_{source.name}")
    return folder


def _contracts_copy(work: Path) -> Path:
    """contracts/ with fresh build folders (so forge compiles from scratch), its relative paths kept."""
    shutil.copytree(ROOT / "contracts", work / "contracts", symlinks=True, ignore=shutil.ignore_patterns("out", "cache"))
    (work / "node_modules").symlink_to(toolchain.node_modules())
    (work / "watchdog").mkdir()
    (work / "watchdog" / "toolchain").symlink_to(toolchain.PACKAGE_DIR)
    return work / "contracts"


def bench(repeat: int) -> dict:
    results = []
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        work = Path(tmp)
        targets = [
            (
                "fixtures (plain folder)",
                _fixtures_folder(work),
                ["--solc", str(toolchain.solc()), "--solc-standard-json", "--solc-remaps", f"@openzeppelin/={toolchain.node_modules()}/@openzeppelin/"],
            ),
            ("contracts (Foundry project)", _contracts_copy(work), []),
        ]
        for name, target, plain_args in targets:
            for run in range(repeat):
                for build in ("out", "cache", "crytic-export"):
                    shutil.rmtree(target / build, ignore_errors=True)
                plain_s, plain_findings, plain_error = _plain_slither(target, plain_args, work)
                ours = _watchdog(target, work / f"cache-{name.split()[0]}-{run}")
                results.append(
                    {
                        "target": name,
                        "run": run,
                        "plain_slither_s": round(plain_s, 3),
                        "plain_slither_findings": plain_findings,
                        "plain_slither_error": plain_error,
                        "watchdog_cold_s": ours["cold_s"],
                        "watchdog_cached_s": ours["cached_s"],
                        "speedup_cold": round(plain_s / ours["cold_s"], 2) if ours["cold_s"] else None,
                        "speedup_cached": round(plain_s / ours["cached_s"], 2) if ours["cached_s"] else None,
                        "watchdog_findings": ours["findings"],
                        "watchdog_own_detector_findings": ours["watchdog_findings"],
                        "compilers": ours["compilers"],
                    }
                )
    return {
        "benchmark": "scan",
        "note": "plain slither: crytic-compile (standard JSON for a folder, forge for a Foundry project, full code "
        "generation); watchdog: solc-js standard JSON per pragma group, AST only, results cached by source hash",
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="runs per target (default 1)")
    args = parser.parse_args()
    print(json.dumps(bench(args.repeat), indent=2))


if __name__ == "__main__":
    main()
