"""`watchdog scan` on sources: our detectors on vulnerable/fixed pairs, formats, CI exit codes, baseline,
cache, several solc versions, and hostile input. Real solc-js and real slither throughout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from fixtures.scan.helpers import check_sarif, run_cli

from watchdog import toolchain
from watchdog.scan import plugin
from watchdog.scan.analyze import select
from watchdog.scan.report import SARIF_SCHEMA
from watchdog.scan.scanner import ScanError, ScanOptions, ScanReport, scan_path
from watchdog.scan.sources import ScanInputError

FIXTURES = Path(__file__).parent / "fixtures" / "scan"
# Each detector and the fixture pair (folder with Vulnerable.sol and its Fixed.sol twin) written for it.
PAIRS = {
    "wd-chainlink-unchecked": "chainlink",
    "wd-spot-price": "spot_price",
    "wd-l2-sequencer": "sequencer",
    "wd-pause-bypass": "pause",
    "wd-unprotected-initializer": "initializer",
    "wd-flash-callback": "flash_callback",
    "wd-single-oracle-liquidation": "single_oracle",
    "wd-balance-share-price": "share_price",
    "wd-unprotected-setter": "setter",
    "wd-setter-no-event": "setter",
    "wd-swap-no-min-output": "swap",
    "wd-swap-deadline": "swap",
    "wd-arbitrary-call": "arbitrary_call",
    "wd-readonly-reentrancy": "readonly_reentrancy",
    "wd-erc4626-rounding": "erc4626_rounding",
    "wd-fee-on-transfer": "fee_on_transfer",
    "wd-single-step-ownership": "ownership",
    "wd-liquidation-no-grace": "liquidation_grace",
    "wd-unsafe-downcast": "downcast",
}
OUR_DETECTORS = set(PAIRS)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scan-cache")


@pytest.fixture(scope="module")
def fixtures_report(cache_dir: Path) -> ScanReport:
    """All fixtures, all detectors (stock and ours), in one scan."""
    return scan_path(FIXTURES, ScanOptions(cache_dir=cache_dir))


def test_plugin_provides_every_detector() -> None:
    assert {d.ARGUMENT for d in plugin.detectors()} == OUR_DETECTORS


@pytest.mark.parametrize("detector", sorted(PAIRS))
def test_detector_flags_vulnerable_and_is_silent_on_fixed(fixtures_report: ScanReport, detector: str) -> None:
    """Each detector flags its vulnerable fixture, and nothing else: not its fixed twin, not other pairs."""
    pair = PAIRS[detector]
    hits = [f for f in fixtures_report.findings if f.detector == detector]
    assert {f.file for f in hits} == {f"{pair}/Vulnerable.sol"}, [f.description for f in hits]
    assert all(f.contract and f.start_line > 1 for f in hits)


def test_our_detectors_stay_silent_on_every_fixed_twin(fixtures_report: ScanReport) -> None:
    ours = [f for f in fixtures_report.findings if f.ours and f.file.endswith("Fixed.sol")]
    assert ours == []


def test_several_compiler_versions_side_by_side(fixtures_report: ScanReport) -> None:
    assert "0.8.20" in toolchain.solc_versions()
    assert sorted(fixtures_report.compilers["0.8.20"]) == ["flash_callback/Fixed.sol", "flash_callback/Vulnerable.sol"]
    newest = max(toolchain.solc_versions(), key=lambda v: tuple(map(int, v.split("."))))
    assert "chainlink/Vulnerable.sol" in fixtures_report.compilers[newest]


def test_second_scan_comes_from_the_cache(fixtures_report: ScanReport, cache_dir: Path) -> None:
    again = scan_path(FIXTURES, ScanOptions(cache_dir=cache_dir))
    assert again.cached_groups == len(again.compilers) == 2
    assert [f.fingerprint for f in again.findings] == [f.fingerprint for f in fixtures_report.findings]


def test_changed_source_misses_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    target = tmp_path / "Pricer.sol"
    target.write_text((FIXTURES / "chainlink" / "Vulnerable.sol").read_text())
    first = scan_path(target, ScanOptions(cache_dir=cache_dir, include=["wd-*"]))
    assert first.cached_groups == 0 and {f.detector for f in first.findings} == {"wd-chainlink-unchecked"}
    target.write_text((FIXTURES / "chainlink" / "Fixed.sol").read_text())
    second = scan_path(target, ScanOptions(cache_dir=cache_dir, include=["wd-*"]))
    assert second.cached_groups == 0 and second.findings == []


def test_include_and_exclude_select_detectors(cache_dir: Path) -> None:
    only = scan_path(FIXTURES / "pause" / "Vulnerable.sol", ScanOptions(cache_dir=cache_dir, include=["wd-pause-bypass"]))
    assert {f.detector for f in only.findings} == {"wd-pause-bypass"}
    chosen = {d.ARGUMENT for d in select(["wd-*"], ["wd-pause-bypass", "wd-l2-*"])}
    assert chosen == OUR_DETECTORS - {"wd-pause-bypass", "wd-l2-sequencer"}
    with pytest.raises(ScanInputError, match="no detector matches 'wd-nope'"):
        scan_path(FIXTURES / "pause", ScanOptions(cache_dir=cache_dir, include=["wd-nope"], use_cache=False))


def test_sarif_output_is_valid_and_names_our_detectors(tmp_path: Path, cache_dir: Path) -> None:
    """Through the installed console script, as CI runs it."""
    out = tmp_path / "out.sarif"
    proc = subprocess.run(
        [sys.executable, "-m", "watchdog", "scan", str(FIXTURES), "--format", "sarif", "-o", str(out), "--cache-dir", str(cache_dir)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    sarif = json.loads(out.read_text())
    check_sarif(sarif)
    run = sarif["runs"][0]
    assert OUR_DETECTORS <= {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    # URIs are relative to the working directory, where CI checkouts and editors resolve them.
    flagged = {(r["ruleId"], (Path.cwd() / r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]).resolve()) for r in run["results"]}
    assert ("wd-flash-callback", (FIXTURES / "flash_callback" / "Vulnerable.sol").resolve()) in flagged
    assert ("wd-chainlink-unchecked", (FIXTURES / "chainlink" / "Vulnerable.sol").resolve()) in flagged


def test_the_sarif_check_holds_logs_to_the_official_schema() -> None:
    log = {"version": "2.1.0", "$schema": SARIF_SCHEMA,
           "runs": [{"tool": {"driver": {"name": "watchdog", "rules": [{"id": "wd-x", "shortDescription": {"text": "x"},
                                                                        "defaultConfiguration": {"level": "error"}}]}},
                     "results": []}]}
    check_sarif(log)
    log["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] = "fatal"  # not a SARIF level
    with pytest.raises(jsonschema.ValidationError):
        check_sarif(log)


def test_fail_on_high_fails_on_vulnerable_and_passes_on_fixed(cache_dir: Path) -> None:
    """All detectors, stock and ours, as CI would run them on one pair."""
    vulnerable = run_cli(str(FIXTURES / "chainlink" / "Vulnerable.sol"), "--fail-on", "high", "--cache-dir", str(cache_dir))
    fixed = run_cli(str(FIXTURES / "chainlink" / "Fixed.sol"), "--fail-on", "high", "--cache-dir", str(cache_dir))
    assert vulnerable.returncode == 1, vulnerable.stdout + vulnerable.stderr
    assert "wd-chainlink-unchecked" in vulnerable.stdout
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_fixed_twins_have_no_high_finding_at_all(fixtures_report: ScanReport) -> None:
    """What `--fail-on high` decides on, for every pair at once."""
    high = [(f.detector, f.file) for f in fixtures_report.findings if f.severity >= "high" and f.file.endswith("Fixed.sol")]
    assert high == []


def test_baseline_hides_known_findings(tmp_path: Path, cache_dir: Path) -> None:
    target = FIXTURES / "chainlink" / "Vulnerable.sol"  # scanned as in the fail-on test: served from the cache
    base = tmp_path / "baseline.json"
    first = run_cli(str(target), "--format", "json", "-o", str(base), "--cache-dir", str(cache_dir))
    assert first.returncode == 0
    assert json.loads(base.read_text())["summary"]["high"] >= 1
    again = run_cli(str(target), "--baseline", str(base), "--fail-on", "high", "--format", "json", "--cache-dir", str(cache_dir))
    assert again.returncode == 0, again.stdout
    report = json.loads(again.stdout)
    assert report["findings"] == [] and report["hidden_by_baseline"] >= 1


def test_markdown_and_text_formats_and_fail_on_medium(cache_dir: Path) -> None:
    target = str(FIXTURES / "single_oracle" / "Vulnerable.sol")
    md = run_cli(target, "--format", "markdown", "--include", "wd-*", "--cache-dir", str(cache_dir))
    assert md.returncode == 0 and "## [MEDIUM] wd-single-oracle-liquidation" in md.stdout and "| medium | 1 |" in md.stdout
    text = run_cli(target, "--include", "wd-*", "--fail-on", "medium", "--cache-dir", str(cache_dir))
    assert text.returncode == 1 and "wd-single-oracle-liquidation" in text.stdout and "1 medium" in text.stdout
    assert run_cli(target, "--include", "wd-*", "--fail-on", "high", "--cache-dir", str(cache_dir)).returncode == 0


def test_plain_slither_lists_our_detectors() -> None:
    proc = subprocess.run(
        [str(toolchain.python_script("slither")), "--list-detectors"],
        capture_output=True, text=True, timeout=300, env={**toolchain.tool_env(), "COLUMNS": "250"},
    )
    assert proc.returncode == 0
    for detector in OUR_DETECTORS:
        assert detector in proc.stdout


def test_list_detectors_from_the_cli() -> None:
    """Each of our detectors with its bug class, a one-line example and references; slither's one line each."""
    proc = run_cli("--list-detectors")
    assert proc.returncode == 0 and "reentrancy-eth" in proc.stdout
    for detector in plugin.detectors():
        entry = proc.stdout.split(detector.ARGUMENT, 1)[1].split("\nwd-", 1)[0]
        assert f"class:      {detector.BUG_CLASS}" in entry and f"example:    {detector.EXAMPLE}" in entry
        assert detector.REFERENCES and all(f"reference:  {ref}" in entry for ref in detector.REFERENCES)
        assert all(ref.startswith("https://") for ref in detector.REFERENCES)
        assert detector.WIKI and detector.WIKI_TITLE and detector.WIKI_RECOMMENDATION  # slither's own metadata kept


# --- hostile and broken input: one clear line, exit code 2, never a hang ---


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    return lines[0]


def test_compiler_error_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "Broken.sol").write_text("pragma solidity ^0.8.0;\ncontract Broken { function f( }\n")
    line = _one_line_error(run_cli(str(tmp_path / "Broken.sol"), "--no-cache"))
    assert "compiler error in Broken.sol: ParserError" in line


def test_missing_import_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "A.sol").write_text('pragma solidity ^0.8.0;\nimport "./Nowhere.sol";\ncontract A {}\n')
    line = _one_line_error(run_cli(str(tmp_path), "--no-cache"))
    assert 'import "./Nowhere.sol" in A.sol not found' in line


def test_import_loop_terminates(tmp_path: Path) -> None:
    (tmp_path / "A.sol").write_text('pragma solidity ^0.8.0;\nimport "./B.sol";\ncontract A {}\n')
    (tmp_path / "B.sol").write_text('pragma solidity ^0.8.0;\nimport "./A.sol";\ncontract B {}\n')
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "back").symlink_to(tmp_path)  # a folder loop on disk as well
    report = scan_path(tmp_path, ScanOptions(use_cache=False, include=["wd-*"]))
    assert report.findings == [] and sorted(report.compilers[next(iter(report.compilers))]) == ["A.sol", "B.sol"]


def test_double_slash_in_an_import_path_is_no_comment(tmp_path: Path) -> None:
    """`import {A} from "./lib//A.sol";` (as in Aave V3) is an import, not an import cut short by a comment."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "A.sol").write_text("pragma solidity ^0.8.0;\ncontract A {}\n")
    (tmp_path / "B.sol").write_text('pragma solidity ^0.8.0;\nimport {A} from "./lib//A.sol"; // a comment\ncontract B is A {}\n')
    report = scan_path(tmp_path / "B.sol", ScanOptions(use_cache=False, include=["wd-*"]))
    assert report.findings == [] and report.compilers[next(iter(report.compilers))] == ["B.sol"]


def test_huge_source_is_refused_before_compiling(tmp_path: Path) -> None:
    padding = "// " + "x" * 1000 + "\n"
    (tmp_path / "Huge.sol").write_text("pragma solidity ^0.8.0;\ncontract Huge {}\n" + padding * 2200)
    line = _one_line_error(run_cli(str(tmp_path), "--max-source-mb", "2", "--no-cache"))
    assert "sources exceed 2 MiB" in line


def test_unsupported_pragma_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "Old.sol").write_text("pragma solidity ^0.4.0;\ncontract Old {}\n")
    line = _one_line_error(run_cli(str(tmp_path / "Old.sol"), "--no-cache"))
    assert "no installed solc-js release satisfies" in line and "npm alias" in line


def test_time_and_memory_limits_stop_the_analysis() -> None:
    with pytest.raises(ScanError, match="did not finish within"):
        scan_path(FIXTURES / "pause", ScanOptions(use_cache=False, timeout=0.05))
    with pytest.raises(ScanError, match="used more than 40 MiB"):
        scan_path(FIXTURES / "pause", ScanOptions(use_cache=False, max_memory_mb=40))


def test_not_solidity_and_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert "not a Solidity file" in _one_line_error(run_cli(str(tmp_path / "notes.txt")))
    assert "does not exist" in _one_line_error(run_cli(str(tmp_path / "missing")))
    assert "no Solidity files" in _one_line_error(run_cli(str(tmp_path)))


def test_foundry_project_with_remappings(tmp_path: Path, cache_dir: Path) -> None:
    """A Foundry project: src/ from foundry.toml, imports through a declared and an inferred remapping."""
    (tmp_path / "foundry.toml").write_text('[profile.default]\nsrc = "contracts"\nlibs = ["deps"]\nremappings = ["@oz/=deps/oz/"]\n')
    (tmp_path / "deps" / "oz").mkdir(parents=True)
    (tmp_path / "deps" / "oz" / "Pausable.sol").write_text(
        (toolchain.node_modules() / "@openzeppelin" / "contracts" / "utils" / "Pausable.sol").read_text()
    )
    (tmp_path / "deps" / "utils").mkdir()  # Pausable imports "../utils/Context.sol"
    (tmp_path / "deps" / "utils" / "Context.sol").write_text(
        (toolchain.node_modules() / "@openzeppelin" / "contracts" / "utils" / "Context.sol").read_text()
    )
    (tmp_path / "contracts").mkdir()
    source = (FIXTURES / "pause" / "Vulnerable.sol").read_text()
    source = source.replace("@openzeppelin/contracts/utils/Pausable.sol", "@oz/Pausable.sol")
    # a git-submodule style library: forge infers `tokens/=deps/tokens/src/`
    (tmp_path / "deps" / "tokens" / "src").mkdir(parents=True)
    (tmp_path / "deps" / "tokens" / "src" / "IERC20.sol").write_text(
        (toolchain.node_modules() / "@openzeppelin" / "contracts" / "token" / "ERC20" / "IERC20.sol").read_text()
    )
    source = source.replace("@openzeppelin/contracts/token/ERC20/IERC20.sol", "tokens/IERC20.sol")
    (tmp_path / "contracts" / "Vault.sol").write_text(source)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "Ignored.sol").write_text("pragma solidity ^0.8.0; contract Ignored { function f( }")
    report = scan_path(tmp_path, ScanOptions(cache_dir=cache_dir, include=["wd-*"]))
    assert {(f.detector, f.file) for f in report.findings} == {("wd-pause-bypass", "contracts/Vault.sol")}


def test_scan_of_the_project_contracts_when_they_build(tmp_path: Path, cache_dir: Path) -> None:
    contracts = toolchain.PROJECT_ROOT / "contracts"
    out = tmp_path / "contracts.sarif"
    proc = run_cli(str(contracts), "--format", "sarif", "-o", str(out), "--include", "wd-*", "--cache-dir", str(cache_dir))
    if proc.returncode == 2 and "compiler error" in proc.stderr:
        pytest.skip(f"contracts/ does not compile at the moment: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    sarif = json.loads(out.read_text())
    check_sarif(sarif)
    assert OUR_DETECTORS <= {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert uris and all((Path.cwd() / uri).resolve().is_relative_to((contracts / "src").resolve()) for uri in uris)


def test_hardhat_project_scans_its_contracts_folder(tmp_path: Path, cache_dir: Path) -> None:
    (tmp_path / "hardhat.config.js").write_text("module.exports = { solidity: '0.8.28' };\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "@openzeppelin").symlink_to(toolchain.node_modules() / "@openzeppelin")
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "Init.sol").write_text((FIXTURES / "initializer" / "Vulnerable.sol").read_text())
    (tmp_path / "contracts" / "Guarded.sol").write_text((FIXTURES / "initializer" / "Fixed.sol").read_text())
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "Broken.sol").write_text("contract Broken { function f( }")
    report = scan_path(tmp_path, ScanOptions(cache_dir=cache_dir, include=["wd-*"]))
    assert [(f.detector, f.file) for f in report.findings] == [("wd-unprotected-initializer", "contracts/Init.sol")]


def test_l2_option_requires_sequencer_checks_everywhere(cache_dir: Path) -> None:
    """Without an L2 hint in its names the fixed pricer passes; declared as running on a rollup, it lacks the check."""
    target = FIXTURES / "chainlink" / "Fixed.sol"
    assert scan_path(target, ScanOptions(cache_dir=cache_dir, include=["wd-l2-sequencer"])).findings == []
    on_l2 = scan_path(target, ScanOptions(cache_dir=cache_dir, include=["wd-l2-sequencer"], l2=True))
    assert {f.contract for f in on_l2.findings} == {"CheckedCollateralPricer", "HelperCheckedPricer", "CallerCheckedPricer"}


def test_unwritable_cache_does_not_fail_the_scan(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    report = scan_path(FIXTURES / "chainlink" / "Vulnerable.sol", ScanOptions(cache_dir=blocked, include=["wd-chainlink-unchecked"]))
    assert {f.detector for f in report.findings} == {"wd-chainlink-unchecked"}


def test_chainlink_checks_followed_into_helpers(fixtures_report: ScanReport) -> None:
    """A helper that validates answer and age but not the round: only the round check is reported missing."""
    half = [f for f in fixtures_report.findings if f.contract == "HalfCheckedPricer" and f.ours]
    assert [f.detector for f in half] == ["wd-chainlink-unchecked"]
    missing = half[0].description.split(" without checking ", 1)[1]
    assert missing.startswith("round") and "staleness" not in missing and "answer (" not in missing


def test_spot_price_sources(fixtures_report: ScanReport) -> None:
    """Reserves, slot0 and a ratio of pool balances are flagged; balances read for accounting are not."""
    flagged = {f.contract for f in fixtures_report.findings if f.detector == "wd-spot-price"}
    assert flagged == {"SpotPricedVault", "Slot0PricedOracle", "BalanceRatioPricer"}


def test_pause_state_found_beyond_openzeppelin(fixtures_report: ScanReport) -> None:
    """A scoped, time-bounded pause is recognised by what its pause function writes."""
    flagged = {f.contract for f in fixtures_report.findings if f.detector == "wd-pause-bypass"}
    assert flagged == {"LeakyPausableVault", "LeakyScopedPauseVault"}
