"""Compile and analyse groups of sources with slither plus watchdog's detectors.

Runs inside the limited worker process (`python -m watchdog.scan.worker`); everything in and out is JSON.
"""

from __future__ import annotations

import fnmatch
import logging
from pathlib import Path
from typing import Any

from crytic_compile import CryticCompile
from slither import Slither
from slither.detectors import all_detectors
from slither.detectors.abstract_detector import AbstractDetector

from watchdog.scan import plugin
from watchdog.scan.compiler import PrecompiledPlatform, run_solc
from watchdog.scan.slither_results import from_slither
from watchdog.scan.sources import ScanInputError


def all_detector_classes() -> list[type[AbstractDetector]]:
    stock = [
        d for d in vars(all_detectors).values()
        if isinstance(d, type) and issubclass(d, AbstractDetector) and d is not AbstractDetector
    ]
    return sorted({*stock, *plugin.detectors()}, key=lambda d: d.ARGUMENT)


def select(include: list[str], exclude: list[str]) -> list[type[AbstractDetector]]:
    """Detectors whose argument matches an --include pattern (all when none) and no --exclude pattern."""
    known = all_detector_classes()
    names = {d.ARGUMENT for d in known}
    for pattern in [*include, *exclude]:
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            raise ScanInputError(f"no detector matches {pattern!r}: see `watchdog scan --list-detectors`")
    return [
        d for d in known
        if (not include or any(fnmatch.fnmatchcase(d.ARGUMENT, p) for p in include))
        and not any(fnmatch.fnmatchcase(d.ARGUMENT, p) for p in exclude)
    ]


def analyze_group(root: Path, group: dict[str, Any], detectors: list[type[AbstractDetector]], timeout: float) -> list[dict]:
    output = run_solc(group["standard_json"], group["version"], root, timeout)
    files = {unit: Path(path) for unit, path in group["files"].items()}
    compilation = CryticCompile(PrecompiledPlatform(root, [(group["version"], output, files)]))
    slither = Slither(compilation, exclude_dependencies=True)
    for detector in detectors:
        slither.register_detector(detector)
    helps = {d.ARGUMENT: (d.HELP, d.WIKI) for d in detectors}
    targets = {Path(files[unit]).resolve().as_posix() for unit in group["targets"]}
    findings = []
    for results in slither.run_detectors():
        for result in results:
            elements = result.get("elements") or []
            # Report what is in the scanned files; their libraries are someone else's findings.
            if elements and elements[0].get("source_mapping", {}).get("filename_absolute") not in targets:
                continue
            findings.append(from_slither(result, helps))
    return findings


def run(request: dict[str, Any]) -> dict[str, Any]:
    logging.disable(logging.CRITICAL)  # slither and crytic-compile log every step to stderr
    detectors = select(request.get("include", []), request.get("exclude", []))
    root = Path(request["root"])
    return {
        "groups": {
            group["key"]: analyze_group(root, group, detectors, request.get("timeout", 300))
            for group in request["groups"]
        }
    }
