"""Compile one group of sources with the solc-js shim (standard JSON) and wrap the output as a
crytic-compile object that slither analyses, without crytic-compile running a compiler itself."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from crytic_compile import CryticCompile
from crytic_compile.compilation_unit import CompilationUnit
from crytic_compile.compiler.compiler import CompilerVersion
from crytic_compile.platform.abstract_platform import AbstractPlatform
from crytic_compile.platform.types import Type
from crytic_compile.utils.naming import Filename

from watchdog import toolchain
from watchdog.scan.sources import ScanInputError


def run_solc(standard_json: dict, version: str, cwd: Path, timeout: float) -> dict:
    """Compile with the shim pinned to `version`; compiler errors become one ScanInputError line."""
    env = toolchain.tool_env()
    env["WATCHDOG_SOLC_VERSION"] = version
    try:
        proc = subprocess.run(
            [str(toolchain.solc()), "--standard-json"],
            input=json.dumps(standard_json).encode(),
            capture_output=True,
            cwd=cwd,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise ScanInputError(f"solc {version} did not finish within {timeout:.0f} s: scan fewer files or raise --timeout") from None
    try:
        output = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        output = None
    if not isinstance(output, dict):  # the compiler died (solc-js runs out of its WebAssembly memory on huge input)
        lines = [line.strip() for line in proc.stderr.decode(errors="replace").splitlines() if line.strip()]
        reason = next((line for line in lines if "Error" in line), lines[-1] if lines else f"exit code {proc.returncode}")
        raise ScanInputError(f"solc {version} failed on these sources ({reason[:200]}): scan fewer or smaller files")
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        first = errors[0]
        where = first.get("sourceLocation", {}).get("file")
        message = first.get("message", "unknown error").splitlines()[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ScanInputError(f"compiler error in {where or 'input'}: {first.get('type', 'Error')}: {message}{more}")
    if "sources" not in output:
        raise ScanInputError(f"solc {version} returned no AST: check that the sources compile with `forge build`")
    return output


class PrecompiledPlatform(AbstractPlatform):
    """A crytic-compile platform over standard-JSON outputs we produced ourselves (one unit each)."""

    NAME = "watchdog-precompiled"
    PROJECT_URL = "https://docs.soliditylang.org/en/latest/using-the-compiler.html"
    TYPE = Type.SOLC_STANDARD_JSON

    def __init__(self, root: Path, outputs: list[tuple[str, dict, dict[str, Path]]]):
        super().__init__(str(root))
        self._root = root
        self._outputs = outputs  # (compiler version, standard JSON output, unit name -> file)

    def compile(self, crytic_compile: CryticCompile, **_kwargs: Any) -> None:
        contents: dict[str, str] = {}
        for index, (version, output, files) in enumerate(self._outputs):
            unit = CompilationUnit(crytic_compile, f"watchdog-{index}-{version}")
            unit.compiler_version = CompilerVersion(compiler="solc", version=version, optimized=False)
            # Source ids index the AST's `src` attributes: create the units in id order.
            for name, info in sorted(output["sources"].items(), key=lambda item: item[1]["id"]):
                path = files[name]
                filename = Filename(
                    absolute=path.as_posix(),
                    used=name,
                    relative=os.path.relpath(path, Path.cwd()),
                    short=os.path.relpath(path, self._root) if path.is_relative_to(self._root) else name,
                )
                source_unit = unit.create_source_unit(filename)
                source_unit.ast = info["ast"]
                unit.set_source_id(info["id"], filename)
                contents[filename.absolute] = path.read_text(encoding="utf-8", errors="replace")
            for name, contracts in output.get("contracts", {}).items():
                source_unit = unit.create_source_unit(next(f for f in unit.filenames if f.used == name))
                for contract_name, info in contracts.items():
                    source_unit.add_contract_name(contract_name)
                    unit.filename_to_contracts[source_unit.filename].add(contract_name)
                    source_unit.abis[contract_name] = info.get("abi", [])
                    source_unit.bytecodes_init[contract_name] = ""
                    source_unit.bytecodes_runtime[contract_name] = ""
                    source_unit.srcmaps_init[contract_name] = []
                    source_unit.srcmaps_runtime[contract_name] = []
        crytic_compile.src_content = contents

    def clean(self, **_kwargs: str) -> None:
        pass

    @staticmethod
    def is_supported(target: str, **kwargs: str) -> bool:
        return False

    def is_dependency(self, path: str) -> bool:
        return "node_modules" in Path(path).parts or "lib" in Path(path).parts

    def _guessed_tests(self) -> list[str]:
        return []
