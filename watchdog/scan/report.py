"""Render a ScanReport as text, JSON, SARIF 2.1.0 or Markdown; apply a baseline of known findings."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from watchdog.finding import Severity
from watchdog.errors import ConfigError
from watchdog.scan import plugin
from watchdog.scan.findings import ScanFinding
from watchdog.scan.scanner import ScanReport

FORMATS = ("text", "json", "sarif", "markdown")
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "watchdog/v1"
SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning ranks security results by this CVSS-like score.
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0", Severity.INFO: "1.0"}
IMPACT_NAME = {"High": Severity.HIGH, "Medium": Severity.MEDIUM, "Low": Severity.LOW}


_FINGERPRINT = re.compile(r"[0-9a-f]{16,64}")
MAX_BASELINE_BYTES = 64 * 1024 * 1024


def load_baseline(path: Path) -> set[str]:
    """Fingerprints from an earlier `--format json` or `--format sarif` output, or one per line. A file that is
    none of these is an error: a baseline silently ignored would hide nothing and fail CI for the wrong reason."""
    fix = "give a report written by `watchdog scan --format json` (or sarif), or one fingerprint per line"
    try:
        with path.open("rb") as handle:
            text = handle.read(MAX_BASELINE_BYTES + 1).decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"baseline {path} is not UTF-8 text: {fix}") from None
    if len(text) > MAX_BASELINE_BYTES:
        raise ConfigError(f"baseline {path} is larger than {MAX_BASELINE_BYTES // (1024 * 1024)} MiB: {fix}")
    if text.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            where = f" (line {exc.lineno}: {exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
            raise ConfigError(f"baseline {path} is not valid JSON{where}: {fix}") from None
        found = _fingerprints(data)
        if found is None:
            raise ConfigError(f"baseline {path} is neither a watchdog JSON/SARIF report nor a list of fingerprints: {fix}")
        return found
    fingerprints = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not _FINGERPRINT.fullmatch(line):
            raise ConfigError(f"baseline {path} line {number} is not a fingerprint (hex digits): {fix}")
        fingerprints.add(line)
    return fingerprints


def _fingerprints(data: Any) -> set[str] | None:
    """The fingerprints of a parsed JSON report (watchdog JSON, SARIF or a list); None when it is none of these."""
    if isinstance(data, dict) and isinstance(data.get("findings"), list):
        items = [_get(f, "fingerprint") for f in data["findings"]]
    elif isinstance(data, dict) and isinstance(data.get("runs"), list):
        items = []
        for run in data["runs"]:
            results = _get(run, "results")
            if not isinstance(results, list):
                return None
            items += [_get(_get(result, "partialFingerprints"), FINGERPRINT_KEY) for result in results]
    elif isinstance(data, list):
        items = list(data)
    else:
        return None
    if not all(isinstance(item, str) and _FINGERPRINT.fullmatch(item) for item in items):
        return None
    return set(items)


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def apply_baseline(report: ScanReport, known: set[str]) -> ScanReport:
    kept = [f for f in report.findings if f.fingerprint not in known]
    return replace(report, findings=kept, hidden_by_baseline=len(report.findings) - len(kept))


def summary(findings: list[ScanFinding]) -> dict[str, int]:
    counts = Counter(f.severity.value for f in findings)
    return {s.value: counts.get(s.value, 0) for s in reversed(Severity)}


def display_path(report: ScanReport, file: str) -> str:
    """A finding's file relative to the working directory when it lies below it (what CI checkouts and
    editors resolve), else relative to the scanned project's root."""
    full = (report.root / file).resolve()
    cwd = Path.cwd().resolve()
    return full.relative_to(cwd).as_posix() if full.is_relative_to(cwd) else file


def _title(finding: ScanFinding) -> str:
    return finding.description.splitlines()[0] if finding.description else finding.detector


def to_text(report: ScanReport) -> str:
    lines = []
    for f in report.findings:
        where = f"{display_path(report, f.file)}:{f.start_line}"
        lines.append(f"{f.severity.value.upper():8} {f.detector:32} {where}  {_title(f)}")
    counts = ", ".join(f"{n} {s}" for s, n in summary(report.findings).items() if n) or "no findings"
    extra = f" ({report.hidden_by_baseline} hidden by the baseline)" if report.hidden_by_baseline else ""
    compilers = ", ".join(f"solc {v}: {len(files)} file(s)" for v, files in report.compilers.items())
    lines.append(f"{counts}{extra} in {report.target} [{compilers}]")
    return "\n".join(lines) + "\n"


def to_json(report: ScanReport) -> str:
    data = {
        "tool": "watchdog scan",
        "target": report.target,
        "compilers": report.compilers,
        "summary": summary(report.findings),
        "hidden_by_baseline": report.hidden_by_baseline,
        "findings": [f.to_dict() for f in report.findings],
    }
    return json.dumps(data, indent=2) + "\n"


def to_markdown(report: ScanReport) -> str:
    out = [f"# watchdog scan: {report.target}", ""]
    out.append("| severity | count |\n|---|---|")
    out += [f"| {s} | {n} |" for s, n in summary(report.findings).items()]
    out.append("")
    if not report.findings:
        out.append("No findings.")
    for f in report.findings:
        where = f"{f.contract}.{f.function}" if f.function else (f.contract or "")
        out.append(f"## [{f.severity.value.upper()}] {f.detector} — `{display_path(report, f.file)}#L{f.start_line}` {where}".rstrip())
        out.append("")
        out.append(f.description.replace("\n", "  \n"))
        if f.wiki:
            out.append(f"\nMore: {f.wiki}")
        out.append("")
    return "\n".join(out) + "\n"


def _rules(report: ScanReport) -> list[dict[str, Any]]:
    """Every watchdog detector, plus the stock slither detectors that reported something."""
    rules: dict[str, dict[str, Any]] = {}
    for d in plugin.detectors():
        severity = IMPACT_NAME.get(d.IMPACT.name.title(), Severity.INFO)
        rules[d.ARGUMENT] = {
            "id": d.ARGUMENT,
            "name": d.WIKI_TITLE,
            "shortDescription": {"text": d.HELP},
            "fullDescription": {"text": d.WIKI_DESCRIPTION},
            "help": {"text": d.WIKI_RECOMMENDATION},
            "helpUri": d.WIKI,
            "defaultConfiguration": {"level": SARIF_LEVEL[severity]},
            "properties": {"tags": ["security", "defi", "watchdog"], "security-severity": SECURITY_SEVERITY[severity]},
        }
    for f in report.findings:
        rules.setdefault(
            f.detector,
            {
                "id": f.detector,
                "shortDescription": {"text": f.help or f.detector},
                "helpUri": f.wiki or "https://github.com/crytic/slither/wiki/Detector-Documentation",
                "defaultConfiguration": {"level": SARIF_LEVEL[f.severity]},
                "properties": {"tags": ["security", "slither"], "security-severity": SECURITY_SEVERITY[f.severity]},
            },
        )
    return list(rules.values())


def _sarif_location(report: ScanReport, loc: dict[str, Any]) -> dict[str, Any]:
    region = {"startLine": max(loc["start_line"], 1), "endLine": max(loc["end_line"], loc["start_line"], 1)}
    region["startColumn"] = max(loc.get("start_column") or 1, 1)
    if region["endLine"] > region["startLine"] or (loc.get("end_column") or 0) > region["startColumn"]:
        region["endColumn"] = max(loc.get("end_column") or 1, 1)
    uri = display_path(report, loc["file"])
    return {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}, "region": region}}


def to_sarif(report: ScanReport) -> str:
    rules = _rules(report)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for f in report.findings:
        primary = {k: getattr(f, k) for k in ("file", "start_line", "end_line", "start_column", "end_column")}
        results.append(
            {
                "ruleId": f.detector,
                "ruleIndex": index[f.detector],
                "level": SARIF_LEVEL[f.severity],
                "message": {"text": f.description or f.detector},
                "locations": [_sarif_location(report, primary)],
                "relatedLocations": [{"id": i, **_sarif_location(report, loc)} for i, loc in enumerate(f.extra_locations)],
                "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
                "properties": {"severity": f.severity.value, "confidence": f.confidence},
            }
        )
    from watchdog import __version__

    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "watchdog",
                        "semanticVersion": __version__,
                        "informationUri": "https://github.com/crytic/slither",
                        "rules": rules,
                    }
                },
                "columnKind": "utf16CodeUnits",
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"


def render(report: ScanReport, fmt: str) -> str:
    return {"text": to_text, "json": to_json, "sarif": to_sarif, "markdown": to_markdown}[fmt](report)
