"""Hostile input to the commands: one line and exit code 2 (never a traceback), limits that hold from the first
byte read, stores that read-only commands never create, and a replay that says what it cannot judge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.chain.hostile import HostileRpc
from fixtures.scan.helpers import run_cli
from watchdog.cli import app
from watchdog.devnet import Anvil
from watchdog.devnet.cache import world_on_anvil
from watchdog.errors import ConfigError
from watchdog.keys import KeySource, load_signer
from watchdog.store import Store

runner = CliRunner()
CONTRACT = "pragma solidity ^0.8.0;\ncontract A { function f() external pure returns (uint256) { return 1; } }\n"


def one_line(result) -> str:  # a CliRunner result or a CompletedProcess
    output = result.output if hasattr(result, "output") else result.stdout + result.stderr
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    return lines[0]


# --- scan ---


@pytest.mark.timeout(240)
def test_blank_lines_cannot_make_scan_outlive_its_time_limit(tmp_path: Path) -> None:
    """400 KB of blank lines: reading them is linear and inside the worker, whose time limit holds (the scan ends,
    analysed or stopped at the limit, in either case within the command's own bound)."""
    (tmp_path / "Blank.sol").write_text("pragma solidity ^0.8.0;\n" + "\n" * 400_000 + "contract A {}\n")
    done = subprocess.run([sys.executable, "-m", "watchdog", "scan", str(tmp_path / "Blank.sol"), "--timeout", "20",
                           "--no-cache", "--include", "wd-*"], capture_output=True, text=True, timeout=180)
    assert "Traceback" not in done.stderr
    assert done.returncode == 0 or "did not finish within 20 s" in one_line(done), done.stderr


def test_a_compiler_that_dies_on_huge_input_is_said_so(tmp_path: Path) -> None:
    (tmp_path / "Huge.sol").write_text("pragma solidity ^0.8.0;\n" + "\n" * (6 * 1024 * 1024) + "contract A {}\n")
    line = one_line(run_cli(str(tmp_path / "Huge.sol"), "--no-cache", "--include", "wd-*"))
    assert "solc 0.8." in line and "failed on these sources" in line and "scan fewer or smaller files" in line


def test_symlink_loops_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.sol").symlink_to(tmp_path / "b.sol")
    (tmp_path / "b.sol").symlink_to(tmp_path / "a.sol")
    assert one_line(run_cli(str(tmp_path / "a.sol"))).endswith("a.sol is a symbolic link loop: fix or remove the link")
    assert "cannot be read (Too many levels of symbolic links): fix or remove it" in one_line(run_cli(str(tmp_path)))


@pytest.mark.parametrize(("args", "expected"), [
    (["--timeout", "-1"], "error: --timeout -1: the seconds a scan may take must be above 0: raise it"),
    (["--max-memory", "0"], "error: --max-memory 0: the MiB of memory a scan may use must be above 0: raise it"),
    (["--max-source-mb", "0"], "error: --max-source-mb 0: the MiB of Solidity a scan accepts must be above 0: raise it"),
])
def test_scan_limits_must_be_positive(tmp_path: Path, args: list[str], expected: str) -> None:
    (tmp_path / "A.sol").write_text(CONTRACT)
    assert one_line(run_cli(str(tmp_path / "A.sol"), *args)) == expected


def test_output_to_a_directory_is_refused_before_scanning(tmp_path: Path) -> None:
    (tmp_path / "A.sol").write_text(CONTRACT)
    (tmp_path / "out").mkdir()
    line = one_line(run_cli(str(tmp_path / "A.sol"), "-o", str(tmp_path / "out"), "--format", "sarif"))
    assert line == f"error: --output {tmp_path / 'out'} is a directory: give a file path, e.g. {tmp_path / 'out' / 'report.sarif'}"


def test_debug_shows_what_the_one_line_hides(tmp_path: Path) -> None:
    (tmp_path / "A.sol").write_text(CONTRACT)
    args = ["scan", str(tmp_path / "A.sol"), "--timeout", "0"]
    assert one_line(runner.invoke(app, args)).startswith("error: --timeout 0:")
    debugged = runner.invoke(app, ["--debug", *args])
    assert isinstance(debugged.exception, ConfigError) and "--timeout 0" in str(debugged.exception)


@pytest.mark.parametrize(("content", "expected"), [
    ('{"findings": [', "is not valid JSON (line 1: Expecting value)"),
    ('{"runs": [{"results": 7}]}', "is neither a watchdog JSON/SARIF report nor a list of fingerprints"),
    ("not a fingerprint at all\n", "line 1 is not a fingerprint (hex digits)"),
])
def test_a_broken_baseline_is_refused_not_ignored(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "A.sol").write_text(CONTRACT)
    (tmp_path / "baseline.json").write_text(content)
    line = one_line(run_cli(str(tmp_path / "A.sol"), "--baseline", str(tmp_path / "baseline.json")))
    assert f"baseline {tmp_path / 'baseline.json'} {expected}" in line and "--format json" in line


# --- stores ---


@pytest.mark.parametrize("command", [["proposals", "list"], ["incidents", "list"], ["incidents", "report", "1"]])
def test_read_only_commands_never_create_a_store(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "p.db"
    line = one_line(runner.invoke(app, [*command, "--store", f"sqlite:///{missing}"]))
    assert line == (f"error: store sqlite:///{missing} does not exist: check the path (`watchdog run` creates the store)")
    assert not (tmp_path / "no").exists()


def test_a_file_that_is_not_sqlite_is_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("these are not the tables you are looking for\n" * 100)
    line = one_line(runner.invoke(app, ["proposals", "list", "--store", f"sqlite:///{notes}"]))
    assert line.startswith(f"error: store sqlite:///{notes} cannot be opened (file is not a database)")
    assert notes.read_text().startswith("these are not")


def test_list_commands_read_a_store_without_writing_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wd.db'}"
    Store(url).close()
    before = (tmp_path / "wd.db").read_bytes()
    for command in (["proposals", "list", "--json"], ["incidents", "list", "--json"]):
        result = runner.invoke(app, [*command, "--store", url])
        assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert (tmp_path / "wd.db").read_bytes() == before
    reader = Store(url, read_only=True)
    with pytest.raises(Exception, match="readonly database"):
        reader.audit("someone", "tamper")
    reader.close()
    empty = tmp_path / "empty.db"
    Store(f"sqlite:///{empty}").close()
    empty.write_bytes(b"")
    assert "holds no watchdog tables" in one_line(runner.invoke(app, ["incidents", "list", "--store", f"sqlite:///{empty}"]))


# --- keys ---


@pytest.mark.parametrize(("content", "expected"), [
    (b"{" * 100_000, "is larger than 64 KiB: is it the right file?"),
    (b"\xff\xfe keystore", "is not UTF-8 text: is it the right file?"),
    (json.dumps({"version": 3, "crypto": {"kdf": "scrypt", "kdfparams": {"n": 2**30, "r": 8, "p": 1, "dklen": 32}}}).encode(),
     "its key derivation asks for n = 1073741824, above 1048576: re-encrypt the key with standard parameters"),
])
def test_a_hostile_keystore_is_refused_before_any_expensive_work(tmp_path: Path, content: bytes, expected: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    keystore = tmp_path / "key.json"
    keystore.write_bytes(content)
    monkeypatch.setenv("KEY_PASSWORD", "pw")
    with pytest.raises(ConfigError) as caught:
        load_signer(KeySource(keystore, "KEY_PASSWORD"))
    assert str(caught.value) == f"keystore {keystore}" + (": " if "derivation" in expected else " ") + expected


# --- replay ---


def write_manifest(folder: Path) -> Path:
    path = folder / "manifest.json"
    path.write_text(json.dumps({"chain_id": 31337, "block": 1, "contracts": [
        {"name": "Vault", "address": "0x00000000000000000000000000000000000000aa", "role": "vault", "abi": []}]}))
    return path


def test_a_block_past_the_head_is_an_error_not_no_findings(tmp_path: Path) -> None:
    with HostileRpc("honest", head=100) as node:
        result = runner.invoke(app, ["replay", "--manifest", str(write_manifest(tmp_path)), "--rpc", node.url,
                                     "--block", "150"])
    assert one_line(result) == "error: block 150 is past the node's head 100: replay blocks up to 100"


@pytest.mark.timeout(300)
def test_a_replay_over_pruned_state_is_one_line(tmp_path: Path) -> None:
    """A node that keeps only recent state (like a full node) cannot tell what happened in older blocks: the
    replay says so once instead of logging a traceback per failed read and reporting a false all-clear."""
    with Anvil(extra_args=("--prune-history", "5")) as node:
        world = world_on_anvil(node, tmp_path / "world")
        first = node.block_number()
        node.mine(30)
        done = subprocess.run([sys.executable, "-m", "watchdog", "replay", "--manifest", str(world.manifest_path),
                               "--rpc", node.url, "--range", f"{first}:{first + 3}"],
                              capture_output=True, text=True, timeout=240)
    line = one_line(done)
    assert line.startswith(f"error: the node has no state for block {first - 1} (") and "use an archive node" in line
