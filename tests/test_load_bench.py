"""Smoke test of the load benchmark: it runs end to end on tiny levels and prints the documented keys per level.
(The figures themselves are measured by `benchmarks/load.py`, outside the test suite.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"txs_per_block", "watched_share", "p50_ms", "p99_ms", "raw_p50_ms", "raw_p99_ms", "max_lag_blocks",
        "requests_per_block", "calls_per_block", "daemon_cpu_pct", "node_cpu_pct"}


def test_load_benchmark_prints_every_level_with_its_figures() -> None:
    done = subprocess.run([sys.executable, "-m", "watchdog", "bench", "load", "--json", "--levels", "4:0.5,4:0.25",
                           "--blocks", "3", "--accounts", "8"], capture_output=True, text=True, timeout=280, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [(level["txs_per_block"], level["watched_share"]) for level in result["levels"]] == [(4, 0.5), (4, 0.25)]
    for level in result["levels"]:
        assert KEYS <= set(level)
        assert level["p50_ms"] > 0 and level["raw_p50_ms"] > 0 and level["requests_per_block"] > 0
        assert level["calls_per_block"]["eth_getLogs"] > 0
    # a level with few watched transactions is compared with its watched transactions alone
    assert result["levels"][1]["watched_only"]["txs_per_block"] == 1 and "unwatched_cost" in result["levels"][1]


def test_load_benchmark_names_a_bad_level() -> None:
    done = subprocess.run([sys.executable, "-m", "watchdog", "bench", "load", "--levels", "300"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert "N:share" in done.stderr and "Traceback" not in done.stderr
