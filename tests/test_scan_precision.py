"""The precision benchmark on one small audited codebase (Uniswap V2 core from npm): every medium or high
finding of watchdog's detectors is in the triage table, nothing triaged has vanished, and none is triaged
false. The full benchmark (all codebases, timed against plain slither) is `benchmarks/scan_precision.py`."""

from __future__ import annotations

import importlib.util
import json
import sys

from watchdog import toolchain

BENCHMARK = toolchain.PROJECT_ROOT / "benchmarks" / "scan_precision.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("scan_precision", BENCHMARK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_uniswap_v2_core_matches_its_triage() -> None:
    benchmark = _benchmark()
    result, diff = benchmark.run(["uniswap-v2-core"], timing=False)
    assert diff == []
    (row,) = result["codebases"]
    assert row["compilers"] == {"0.5.16": row["files"]}  # compiled with the release its pragmas pin
    triaged = json.loads(benchmark.TRIAGE.read_text())["uniswap-v2-core"]
    medium_plus = sum(n for counts in row["findings"].values() for sev, n in counts.items() if sev in benchmark.TRIAGED)
    assert medium_plus == len(triaged) and row["triage"]["false"] == {}
    assert result["targets_met"] == {"false_high": True, "false_medium_per_10k_lines": True}


def test_a_finding_missing_from_the_triage_is_a_diff(monkeypatch, tmp_path) -> None:
    """An empty table: the same findings now show up as untriaged, which fails the benchmark."""
    benchmark = _benchmark()
    empty = tmp_path / "triage.json"
    empty.write_text("{}")
    monkeypatch.setattr(benchmark, "TRIAGE", empty)
    _, diff = benchmark.run(["uniswap-v2-core"], timing=False)
    assert diff and all(line.startswith("+ uniswap-v2-core:") and "not triaged" in line for line in diff)
