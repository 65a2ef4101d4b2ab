"""`scan_path`: sources -> (cache | limited worker: solc-js + slither + watchdog detectors) -> findings."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from watchdog import toolchain
from watchdog.errors import WatchdogError
from watchdog.scan import plugin, sources
from watchdog.scan.findings import ScanFinding
from watchdog.scan.limits import run_limited

log = logging.getLogger("watchdog.scan")

SCAN_DIR = Path(__file__).resolve().parent
# A change to any of these changes what a scan reports, so it is part of the cache key.
ANALYSIS_CODE = ("analyze.py", "compiler.py", "ir.py", "slither_results.py")


class ScanError(WatchdogError):
    """A scan could not complete (limits exceeded, analysis crashed)."""


@dataclass(slots=True)
class ScanOptions:
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    timeout: float = 300.0
    max_memory_mb: int = 4096
    max_source_mb: int = sources.MAX_SOURCE_BYTES // (1024 * 1024)
    l2: bool = False
    cache_dir: Path | None = None  # None: the default cache folder
    use_cache: bool = True


@dataclass(slots=True)
class ScanReport:
    target: str
    root: Path
    findings: list[ScanFinding]
    compilers: dict[str, list[str]]  # version -> files compiled with it
    cached_groups: int = 0
    seconds: float = 0.0
    hidden_by_baseline: int = 0


def default_cache_dir() -> Path:
    if os.environ.get("WATCHDOG_CACHE_DIR"):
        return Path(os.environ["WATCHDOG_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "watchdog" / "scan"


def _analysis_fingerprint(options: ScanOptions) -> str:
    h = hashlib.sha256(json.dumps([sorted(options.include), sorted(options.exclude), options.l2]).encode())
    for path in [*(SCAN_DIR / name for name in ANALYSIS_CODE), *plugin.detector_files()]:
        h.update(path.name.encode() + path.read_bytes())
    h.update(",".join(toolchain.solc_versions()).encode())
    return h.hexdigest()


def _cached(path: Path) -> list[dict] | None:
    """A cached result, or None when absent or unreadable (then the scan simply runs again)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def _store(cache_dir: Path, key: str, findings: list[dict]) -> None:
    """Write atomically; a cache that cannot be written (read-only home) only costs the next scan time."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f"{key}.json.tmp"
        tmp.write_text(json.dumps(findings))
        tmp.replace(cache_dir / f"{key}.json")
    except OSError as exc:
        log.warning("scan cache %s not written: %s", cache_dir, exc.strerror)


def run_worker(request: dict, options: ScanOptions, label: str) -> dict:
    """`scan_sources` in a child process under the time and memory limits: reading the sources, following their
    imports, compiling and analysing all count against them."""
    env = toolchain.tool_env()
    if options.l2:
        env["WATCHDOG_SCAN_L2"] = "1"
    result = run_limited(
        [sys.executable, "-m", "watchdog.scan.worker"],
        json.dumps(request).encode(),
        timeout=options.timeout,
        max_rss_mb=options.max_memory_mb,
        env=env,
    )
    if result.timed_out:
        raise ScanError(f"scan of {label} did not finish within {options.timeout:g} s: scan fewer files or raise --timeout")
    if result.out_of_memory:
        raise ScanError(f"scan of {label} used more than {options.max_memory_mb} MiB: scan fewer files or raise --max-memory")
    try:
        response = json.loads(result.stdout)
    except json.JSONDecodeError:
        lines = result.stderr.decode(errors="replace").strip().splitlines() or [f"exit code {result.returncode}"]
        raise ScanError(f"analysis of {label} crashed: {lines[-1]}") from None
    if "error" in response:
        raise (sources.ScanInputError if response.get("input") else ScanError)(response["error"])
    return response


def scan_path(target: Path, options: ScanOptions | None = None) -> ScanReport:
    """Scan a file, a folder or a project; everything that reads the sources runs in the limited worker."""
    options = options or ScanOptions()
    started = time.monotonic()
    request = {"target": str(target), "include": options.include, "exclude": options.exclude,
               "timeout": options.timeout, "max_source_bytes": options.max_source_mb * 1024 * 1024,
               "cache_dir": str((options.cache_dir or default_cache_dir()).absolute()), "use_cache": options.use_cache,
               "l2": options.l2}
    response = run_worker(request, options, str(target))
    ordered = sorted(
        (ScanFinding.from_dict(f) for f in response["findings"]),
        key=lambda f: (-f.severity.rank, f.file, f.start_line, f.detector),
    )
    return ScanReport(
        target=str(target),
        root=Path(response["root"]),
        findings=ordered,
        compilers=response["compilers"],
        cached_groups=response["cached_groups"],
        seconds=time.monotonic() - started,
    )


def scan_sources(request: dict) -> dict:
    """The scan itself, in the worker: sources -> cache | solc-js + slither + watchdog detectors -> findings."""
    options = ScanOptions(include=request["include"], exclude=request["exclude"], l2=request["l2"],
                          cache_dir=Path(request["cache_dir"]), use_cache=request["use_cache"])
    if options.include or options.exclude:
        from watchdog.scan.analyze import select

        select(options.include, options.exclude)  # an unknown detector name fails here, cached or not
    found = sources.load(Path(request["target"]), max_source_bytes=request["max_source_bytes"])
    assert options.cache_dir is not None
    salt = _analysis_fingerprint(options)
    keys = {id(g): hashlib.sha256((salt + g.digest(found.sources)).encode()).hexdigest() for g in found.groups}
    findings: list[dict] = []
    todo = []
    for group in found.groups:
        hit = _cached(options.cache_dir / f"{keys[id(group)]}.json") if options.use_cache else None
        if hit is not None:
            findings += hit
        else:
            todo.append(group)
    if todo:
        from watchdog.scan import analyze  # slither is heavy: imported only when something is analysed

        os.chdir(found.root)  # compiler paths are relative to the project
        analysed = analyze.run({
            "root": str(found.root),
            "include": options.include,
            "exclude": options.exclude,
            "timeout": request["timeout"],
            "groups": [
                {
                    "key": keys[id(g)],
                    "version": g.version,
                    "targets": g.targets,
                    "files": {unit: str(found.sources[unit].path) for unit in g.units},
                    "standard_json": g.standard_json(found.sources, found.remappings),
                }
                for g in todo
            ],
        })
        for key, group_findings in analysed["groups"].items():
            findings += group_findings
            if options.use_cache:
                _store(options.cache_dir, key, group_findings)
    return {"root": str(found.root), "findings": findings, "cached_groups": len(found.groups) - len(todo),
            "compilers": {g.version: g.targets for g in found.groups}}
