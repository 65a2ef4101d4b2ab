"""The EVM toolchain from npm: anvil, forge through the solc-js shim, slither through the shim."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from watchdog import toolchain
from watchdog.devnet import Anvil

ROOT = Path(__file__).resolve().parents[1]


def run_solc(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(toolchain.solc()), *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_solc_shim_reports_a_0_8_version() -> None:
    out = run_solc("--version").stdout
    assert "Version: 0.8." in out and "+commit." in out


def test_solc_shim_standard_json_large_output_is_complete_json() -> None:
    # Many contracts make the output far larger than a 64 KiB pipe buffer.
    body = "\n".join(f"contract C{i} {{ function f{i}(uint a) external pure returns (uint) {{ return a * {i}; }} }}" for i in range(60))
    source = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n" + body
    request = {
        "language": "Solidity",
        "sources": {"many.sol": {"content": source}},
        "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}}},
    }
    done = run_solc("--standard-json", "--allow-paths", ".", "--base-path", ".", stdin=json.dumps(request))
    assert len(done.stdout) > 65536
    output = json.loads(done.stdout)
    assert set(output["contracts"]["many.sol"]) == {f"C{i}" for i in range(60)}


def test_solc_shim_resolves_imports_from_disk(tmp_path: Path) -> None:
    (tmp_path / "lib.sol").write_text("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nlibrary L { function one() internal pure returns (uint) { return 1; } }\n")
    main = '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nimport "lib.sol";\ncontract M { function f() external pure returns (uint) { return L.one(); } }\n'
    request = {"language": "Solidity", "sources": {"main.sol": {"content": main}}, "settings": {"outputSelection": {"*": {"*": ["abi"]}}}}
    done = run_solc("--standard-json", "--base-path", str(tmp_path), stdin=json.dumps(request))
    output = json.loads(done.stdout)
    assert "M" in output["contracts"]["main.sol"], output.get("errors")


def test_solc_shim_explains_an_unsatisfiable_pragma() -> None:
    request = {"language": "Solidity", "sources": {"old.sol": {"content": "pragma solidity 0.4.11; contract O {}"}}, "settings": {}}
    output = json.loads(run_solc("--standard-json", stdin=json.dumps(request)).stdout)
    assert output["errors"][0]["severity"] == "error"
    assert "0.4.11" in output["errors"][0]["message"] and "npm alias" in output["errors"][0]["message"]


def project_copy(tmp_path: Path) -> Path:
    """The Foundry project in a folder of its own: building it never rewrites the build other tests read."""
    copy = tmp_path / "contracts"
    copy.mkdir()
    for part in ("src", "test"):
        shutil.copytree(ROOT / "contracts" / part, copy / part)
    (copy / "node_modules").symlink_to(ROOT / "node_modules")
    config = (ROOT / "contracts" / "foundry.toml").read_text()
    (copy / "foundry.toml").write_text(config.replace('"../watchdog/', f'"{ROOT}/watchdog/'))
    return copy


def test_forge_builds_offline_through_the_shim(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    done = subprocess.run([str(toolchain.tool("forge")), "build"], cwd=project, capture_output=True, text=True, timeout=300, env=toolchain.tool_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert any((project / "out").rglob("*.json"))


def test_slither_analyses_contracts_through_the_shim(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    done = subprocess.run(
        [str(toolchain.python_script("slither")), "contracts", "--json", "-"],
        cwd=project.parent, capture_output=True, text=True, timeout=300, env=toolchain.tool_env(),
    )
    report = json.loads(done.stdout)
    assert report["success"], report.get("error")


def test_doctor_lists_the_toolchain() -> None:
    done = subprocess.run([sys.executable, "-m", "watchdog", "doctor", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    components = json.loads(done.stdout)["components"]
    assert components["anvil"].startswith("1.7.")
    assert components["forge"].startswith("1.7.")
    assert components["solc (solc-js shim)"].startswith("0.8.")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state not in ("Z", "X")


def test_anvil_stops_cleanly_and_answers_rpc() -> None:
    node = Anvil().start()
    assert node.process is not None
    pid = node.process.pid
    assert int(node.rpc("eth_chainId"), 16) == 31337
    node.mine(2)
    assert node.block_number() == 2
    node.stop()
    assert not _alive(pid)


def test_anvil_dies_with_a_killed_parent(tmp_path: Path) -> None:
    # A Python process that owns an anvil is SIGKILLed: its anvil must not be left behind.
    pid_file = tmp_path / "pid"
    script = (
        "import sys, time; from watchdog.devnet import Anvil; a = Anvil().start(); "
        f"open({str(pid_file)!r}, 'w').write(str(a.process.pid)); time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", script])
    for _ in range(300):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.1)
    anvil_pid = int(pid_file.read_text())
    assert _alive(anvil_pid)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    for _ in range(50):
        if not _alive(anvil_pid):
            break
        time.sleep(0.1)
    assert not _alive(anvil_pid)


def test_state_dump_and_load_round_trip(anvil: Anvil, tmp_path: Path) -> None:
    anvil.rpc("anvil_setBalance", ["0x00000000000000000000000000000000000000aa", hex(12345)])
    anvil.dump_state(tmp_path / "state.hex")
    with Anvil(load_state=tmp_path / "state.hex") as other:
        assert int(other.rpc("eth_getBalance", ["0x00000000000000000000000000000000000000aa", "latest"]), 16) == 12345


def _command_paths() -> list[list[str]]:
    """Every command and subcommand of the `watchdog` CLI."""
    import typer

    from watchdog.cli import app

    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


@pytest.mark.parametrize("command", _command_paths(), ids=lambda p: " ".join(p) or "watchdog")
def test_every_command_has_help(command: list[str]) -> None:
    from typer.testing import CliRunner

    from watchdog.cli import app

    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_console_script_answers_help() -> None:
    done = subprocess.run([sys.executable, "-m", "watchdog", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Usage" in done.stdout
