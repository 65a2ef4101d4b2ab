"""The built distribution is complete: installed from its wheel into a fresh virtual environment, outside
the checkout, watchdog has every built-in rule and slither sees watchdog's detectors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

from watchdog.detect.loader import builtin_rules
from watchdog.scan.plugin import detectors

ROOT = Path(__file__).resolve().parents[1]


def test_installed_wheel_has_every_rule_and_detector(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    wheel = next(dist.glob("*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=900)
    outside = tmp_path / "elsewhere"  # no checkout around: only the installed package can answer
    outside.mkdir()

    listed = subprocess.run([str(bin_dir / "watchdog"), "rules", "list", "--json"], cwd=outside,
                            capture_output=True, text=True, timeout=120, check=True)
    rules = json.loads(listed.stdout)
    assert {r["id"] for r in rules} == {cls.id for cls in builtin_rules()}
    assert all(str(env_dir) in r["source"] for r in rules), "rules must come from the installed package"

    slither = subprocess.run([str(bin_dir / "slither"), "--list-detectors"], cwd=outside,
                             capture_output=True, text=True, timeout=300, check=True,
                             env={**os.environ, "COLUMNS": "400"})  # a narrow table would wrap the names
    for detector in detectors():
        assert detector.ARGUMENT in slither.stdout
