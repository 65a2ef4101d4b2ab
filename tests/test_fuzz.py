"""Property tests over every reader of untrusted text: configs, manifests, ABIs and Solidity sources.

Whatever the input, a reader accepts it or refuses it with `file: key: problem: fix` lines (one per problem, no
traceback, exit code 2 from the command line), never shows a secret, and finishes within a Hypothesis deadline:
the parsers are linear, so a generated input of any shape stays fast. Examples are bounded to keep the whole
file well under a minute."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from watchdog.chain.abi import AbiRegistry
from watchdog.chain.events import Log
from watchdog.cli import app
from watchdog.errors import ConfigError
from watchdog.manifest import load_manifest
from watchdog.scan import pragma, sources
from watchdog.validation import abi_problems

runner = CliRunner()
SECRET = "k3yS3cr3t"
VAULT = "0x00000000000000000000000000000000000000aa"
VALID_MANIFEST = {"chain_id": 31337, "block": 1, "contracts": [
    {"name": "Vault", "address": VAULT, "role": "vault", "abi": [{"type": "event", "name": "Paused", "inputs": []}]}]}
FUZZ = settings(max_examples=60, deadline=timedelta(seconds=2), database=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# --- values ---------------------------------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=24)
KEYS = st.one_of(st.sampled_from(["name", "type", "address", "url", "enabled", "threshold", "x"]), TEXT)
SCALARS = st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
                    TEXT, st.sampled_from(["0x", "0xzz", VAULT, VAULT.upper(), "-1", "yes", "", "ftp://x"]))
JSON_VALUES = st.recursive(st.none() | SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)
TOML_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                           max_leaves=8)
SCHEMES = st.one_of(st.sampled_from(["http", "https", "ws", "wss", "ftp", "file", "postgresql", "sqlite", "gopher"]),
                    st.from_regex(r"[a-z][a-z0-9+.\-]{0,8}", fullmatch=True))
# Endpoint URLs the way hosted providers hand them out: a password and an API key in them, whatever the scheme
# (and sometimes no scheme at all).
SECRET_URLS = st.builds(
    lambda scheme, sep, tail: f"{scheme}{sep}user:{SECRET}{tail}@node.example:8545/v3/{SECRET}{tail}?key={SECRET}",
    SCHEMES, st.sampled_from(["://", ":/", ""]), st.from_regex(r"[A-Za-z0-9]{0,6}", fullmatch=True))


def toml(value: Any) -> str:
    """A value as inline TOML (strings as JSON strings, which TOML basic strings read the same way)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {toml(v)}" for k, v in value.items()) + "}"


def maybe(valid: st.SearchStrategy, junk: st.SearchStrategy = TOML_VALUES) -> st.SearchStrategy:
    """Mostly a plausible value, sometimes anything at all."""
    return st.one_of(valid, valid, junk)


NETWORK = st.fixed_dictionaries({}, optional={
    "chain_id": maybe(st.integers(-5, 2**64)),
    "rpc_urls": maybe(st.lists(st.one_of(SECRET_URLS, st.just("http://127.0.0.1:8545")), max_size=3)),
    "ws_url": maybe(SECRET_URLS),
    "confirmations": maybe(st.integers(-10, 10**9)),
    "start_block": maybe(st.integers(-10, 10**12)),
    "timeout": maybe(st.floats(-10, 10**4, allow_nan=False)),
    "max_answer_mb": maybe(st.floats(-1, 10**3, allow_nan=False)),
    "mempool": maybe(st.booleans()),
    "backfill": maybe(st.sampled_from(["complete", "logs", "some"])),
    "colour": TOML_VALUES,
})
CONFIG = st.fixed_dictionaries({"networks": maybe(st.dictionaries(st.sampled_from(["main", "side", ""]), NETWORK, max_size=2))},
                               optional={
    "protocols": maybe(st.dictionaries(st.sampled_from(["demo", "other"]), st.fixed_dictionaries(
        {}, optional={"manifest": maybe(st.sampled_from(["manifest.json", "missing.json", ""])),
                      "network": maybe(st.sampled_from(["main", "side", "nowhere"]))}), max_size=2)),
    "rules": maybe(st.fixed_dictionaries({}, optional={
        "allowlist": maybe(st.lists(st.sampled_from([VAULT, VAULT.upper(), "0xabc", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"]),
                                    max_size=2)),
        "flash-loan": maybe(st.fixed_dictionaries({}, optional={"enabled": TOML_VALUES, "high_profit": TOML_VALUES}))})),
    "store": maybe(st.fixed_dictionaries({"url": maybe(SECRET_URLS)})),
    "notifiers": maybe(st.dictionaries(st.sampled_from(["ops", "pager"]), st.fixed_dictionaries(
        {"type": maybe(st.sampled_from(["webhook", "slack", "fax"])), "url": maybe(SECRET_URLS)}), max_size=2)),
    "playbooks": maybe(st.lists(st.fixed_dictionaries({"name": TEXT, "actions": maybe(st.lists(st.fixed_dictionaries(
        {"type": maybe(st.sampled_from(["notify", "pause", "propose"]))},
        optional={"targets": maybe(st.lists(st.sampled_from(["affected", "all", "Vault", "Nothing"]), max_size=2)),
                  "notifiers": maybe(st.lists(st.sampled_from(["ops", "nobody"]), max_size=2))}), max_size=2))}),
        max_size=2)),
    "logging": TOML_VALUES,
})


def assert_refused_cleanly(result: Any, source: str) -> None:
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and SECRET not in result.output
    assert "watchdog --debug" not in result.output  # refused as bad input, not by the catch-all of unexpected errors
    lines = [line for line in result.output.splitlines() if line.strip()]
    if result.exit_code == 2:
        assert lines and all(line.startswith("error: ") for line in lines), result.output
        assert all(line.startswith(f"error: {source}") or line.startswith("error: command line")
                   or ": " in line for line in lines)
    else:
        assert lines[-1].startswith("config ok:")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "manifest.json").write_text(json.dumps(VALID_MANIFEST))
    config = path / "warm.toml"  # the first --check loads every rule: not part of any example's time
    config.write_text('[networks.main]\nchain_id = 31337\nrpc_urls = ["http://127.0.0.1:8545"]\n'
                      '[protocols.demo]\nmanifest = "manifest.json"\n')
    assert runner.invoke(app, ["run", "--config", str(config), "--check"]).exit_code == 0
    return path


# --- configs --------------------------------------------------------------------------------------------------------

@FUZZ
@given(config=CONFIG)
def test_any_config_is_accepted_or_refused_in_lines_without_secrets(folder: Path, config: dict[str, Any]) -> None:
    path = folder / "watchdog.toml"
    path.write_text("\n".join(f"{json.dumps(key)} = {toml(value)}" for key, value in config.items()) + "\n")
    assert_refused_cleanly(runner.invoke(app, ["run", "--config", str(path), "--check"]), str(path))


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_any_text_as_a_config_file_is_one_clean_refusal(folder: Path, text: str) -> None:
    path = folder / "text.toml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    assert_refused_cleanly(runner.invoke(app, ["run", "--config", str(path), "--check"]), str(path))


@FUZZ
@given(rpc=st.lists(SECRET_URLS, min_size=1, max_size=2), ws=st.none() | SECRET_URLS)
def test_any_endpoint_on_the_command_line_stays_secret(folder: Path, rpc: list[str], ws: str | None) -> None:
    args = ["run", "--manifest", str(folder / "manifest.json"), *(a for url in rpc for a in ("--rpc", url)), "--check"]
    result = runner.invoke(app, args + (["--ws", ws] if ws else []))
    assert_refused_cleanly(result, "command line")


# --- manifests and ABIs ---------------------------------------------------------------------------------------------

def mutated(base: Any, draw: st.DrawFn, depth: int = 0) -> Any:
    """`base` with some of its values replaced by anything (a near-miss is where validation matters most)."""
    if draw(st.integers(0, 4)) == 0 or depth > 5:
        return draw(JSON_VALUES)
    if isinstance(base, dict):
        out = {k: mutated(v, draw, depth + 1) if draw(st.booleans()) else v for k, v in base.items()}
        if draw(st.integers(0, 5)) == 0:
            out[draw(KEYS)] = draw(JSON_VALUES)
        return out
    if isinstance(base, list):
        return [mutated(v, draw, depth + 1) for v in base] * draw(st.integers(0, 2))
    return base


REFERENCE_MANIFEST = {"chain_id": 31337, "block": 1, "contracts": [
    {"name": "Vault", "address": VAULT, "role": "vault",
     "abi": [{"type": "event", "name": "Moved", "inputs": [{"name": "who", "type": "address", "indexed": True},
                                                          {"name": "amount", "type": "uint256"}]}],
     "pause": {"via": "guardian", "guardian": VAULT, "scope": "market", "scope_id": "0x" + "00" * 32}},
    {"name": "Pool", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "role": "lending", "abi": "abi.json",
     "pause": [{"via": "self", "call": "setPause(bool)", "args": [True], "check": {"call": "paused()(bool)"}}]}],
    "safe": {"address": VAULT, "owners": [VAULT], "threshold": 1}}


@FUZZ
@given(data=st.data())
def test_any_manifest_is_read_or_refused_in_lines(folder: Path, data: st.DataObject) -> None:
    raw = mutated(REFERENCE_MANIFEST, data.draw)
    abi = mutated(REFERENCE_MANIFEST["contracts"][0]["abi"], data.draw)
    path = folder / "fuzzed.json"
    path.write_text(json.dumps(raw))
    (folder / "abi.json").write_text(json.dumps(abi))
    try:
        manifest = load_manifest(path)
        for entry in manifest.contracts:
            AbiRegistry().add_abi(manifest.abi_of(entry), entry.address, entry.name)
    except ConfigError as exc:
        lines = str(exc).splitlines()
        assert lines and all(line.startswith((f"{path}: ", f"{folder / 'abi.json'}: ")) for line in lines), lines


@FUZZ
@given(abi=JSON_VALUES, topics=st.lists(st.from_regex(r"0x[0-9a-f]{64}", fullmatch=True), max_size=4),
       data=st.from_regex(r"0x([0-9a-f]{2}){0,100}", fullmatch=True))
def test_an_abi_is_either_refused_or_decodes_any_log_without_failing(abi: Any, topics: list[str], data: str) -> None:
    problems = abi_problems(abi, "abi.json")
    assert all(line.startswith("abi.json: ") and "\n" not in line for line in problems)
    if problems or not isinstance(abi, list):
        return
    registry = AbiRegistry()
    registry.add_abi(abi, VAULT, "Vault")
    for spec in registry.candidates(VAULT, None) + [s for t in topics for s in registry.candidates(VAULT, t)]:
        spec.decode_raw(tuple(topics), data)
    registry.decode(Log(address=VAULT, topics=tuple(topics), data=data, block_number=1, block_hash="0x1",
                        tx_hash="0x2", tx_index=0, log_index=0))


# --- Solidity sources -----------------------------------------------------------------------------------------------

SOLIDITY_PIECES = st.sampled_from(["\n", " ", "import", "pragma", "solidity", "^0.8.0", '"./A.sol"', "'x'", ";", "{", "}",
                                   "//", "/*", "*/", '"', "'", "\\", "from", "*", "as", "contract C", "-", "||", ">=0.7"])
SOLIDITY = st.one_of(
    st.lists(st.one_of(SOLIDITY_PIECES, st.text(max_size=4)), max_size=300).map("".join),
    st.tuples(st.lists(SOLIDITY_PIECES, min_size=1, max_size=4).map("".join), st.integers(1, 30_000)).map(lambda p: p[0] * p[1]),
)


@FUZZ
@given(source=SOLIDITY)
def test_solidity_directives_are_found_in_linear_time(source: str) -> None:
    imports, pragmas = sources.directives(source)
    assert all(isinstance(i, str) for i in imports) and all(isinstance(p, str) for p in pragmas)
    for expression in pragmas:
        pragma.satisfies((0, 8, 20), expression)


@FUZZ
@given(source=SOLIDITY)
def test_any_solidity_file_is_loaded_or_refused_in_one_line(folder: Path, source: str) -> None:
    target = folder / "src" / "Fuzz.sol"
    target.parent.mkdir(exist_ok=True)
    target.write_text(source)
    try:
        sources.load(target, max_source_bytes=256 * 1024)
    except sources.ScanInputError as exc:
        assert "\n" not in str(exc) and str(exc)


@FUZZ
@given(expression=st.text(st.sampled_from("^~<>=|-. 0123456789xv*\t"), max_size=2000))
def test_any_pragma_expression_is_judged_in_linear_time(expression: str) -> None:
    assert isinstance(pragma.satisfies((0, 8, 20), expression), bool)
