"""Smoke test of the ingestion benchmark: it runs end to end and prints the documented JSON keys.
(The figures themselves are measured by `benchmarks/ingest.py`, outside the test suite.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ingest_benchmark_prints_one_json_object_with_its_figures() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ingest.py"), "--logs", "500", "--latency-blocks", "2"],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"raw_logs_per_s", "web3py_logs_per_s", "watchdog_logs_per_s", "p50_ms", "p99_ms"} <= set(result)
    assert result["logs"] == 500 and result["latency_blocks"] == 2
    assert all(result[key] > 0 for key in ("raw_logs_per_s", "web3py_logs_per_s", "watchdog_logs_per_s", "p50_ms", "p99_ms"))
