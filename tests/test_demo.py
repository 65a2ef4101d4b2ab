"""`watchdog demo` (what `make demo` runs): the flagship drill narrated live, ending with the report path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchdog.cli import app

pytestmark = pytest.mark.timeout(300)


def test_demo_shows_the_detection_the_pause_and_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--block-time", "0.2"])
    assert result.exit_code == 0, result.output
    out = result.output
    attack = re.search(r"block (\d+): attacker: flash-loan round 1.*-> succeeded", out)
    assert attack, out
    assert re.search(rf"finding CRITICAL \S+ \(block {attack.group(1)}\)", out)
    assert f"PAUSED: CollateralVault in block {int(attack.group(1)) + 1}" in out
    assert "round 2" in out and "REVERTED" in out
    report = Path(out.split("incident report:")[1].split()[0])
    assert report.is_file() and report.parent == tmp_path / "flash-loan-spot"
    assert "| blocks to contain | 1 |" in report.read_text()
