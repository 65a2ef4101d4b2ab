"""The one typed configuration: TOML validated with pydantic, every problem reported as one line.

Sections: networks, protocols, rules, store, metrics, logging, schedule, abis, and the responder's
playbooks, notifiers and signers. `watchdog init` writes a commented example (EXAMPLE below).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from watchdog.errors import ConfigError
from watchdog.manifest import ContractEntry, Manifest, load_manifest
from watchdog.respond.config import NotifierConfig, Playbook, ResponderSection, SignerConfig

DEFAULT_STORE = "sqlite:///watchdog.db"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NetworkConfig(Strict):
    chain_id: int = Field(gt=0)
    rpc_urls: list[str] = Field(min_length=1)
    ws_url: str | None = None
    confirmations: int = Field(0, ge=0)          # 0: detection on the head itself (findings stay reorg-safe)
    poll_interval: float = Field(1.0, gt=0)      # seconds; the fallback when no WebSocket head arrives
    reorg_window: int = Field(64, ge=1)          # recent block hashes kept to find a fork point
    max_log_range: int = Field(2000, ge=1)       # most blocks per eth_getLogs (halved when a provider refuses)
    start_block: int | None = Field(None, ge=0)  # first block when there is no checkpoint yet
    mempool: bool = False                        # follow pending transactions (needs debug_traceCall)
    timeout: float = Field(10.0, gt=0)           # seconds per HTTP request

    @field_validator("rpc_urls")
    @classmethod
    def _http(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s):// URL")
        return urls

    @field_validator("ws_url")
    @classmethod
    def _ws(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("ws://", "wss://")):
            raise ValueError(f"{url!r} is not a ws(s):// URL")
        return url


class ProtocolConfig(Strict):
    network: str | None = None                   # may be left out when there is one network
    manifest: str | None = None                  # deployment manifest (JSON), relative to the config file
    contracts: list[ContractEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> "ProtocolConfig":
        if self.manifest is None and not self.contracts:
            raise ValueError("has neither `manifest` nor `contracts`: add manifest = \"manifest.json\" "
                             "or [[protocols.<name>.contracts]] tables")
        return self


class RuleConfig(BaseModel):
    """`[rules.<id>]`: enabled, and any other key is a parameter of the rule."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = True

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, RuleConfig] = Field(init=False)  # type: ignore[assignment]
    rule_dirs: list[str] = Field(default_factory=list)
    allowlist: list[str] = Field(default_factory=list)  # addresses whose findings stay below pause level

    def settings(self) -> dict[str, dict[str, Any]]:
        return {rule_id: {"enabled": rule.enabled, **rule.params} for rule_id, rule in (self.__pydantic_extra__ or {}).items()}


class StoreConfig(Strict):
    url: str = DEFAULT_STORE


class MetricsConfig(Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)  # 0: any free port


class LoggingConfig(Strict):
    level: str = "info"
    json_format: bool = Field(False, alias="json")

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError(f"{value!r} is not one of debug, info, warning, error")
        return value.lower()


class ScheduleConfig(Strict):
    rules_interval: float = Field(60.0, gt=0)   # seconds between scheduled rule runs (oracle heartbeats...)
    health_interval: float = Field(15.0, gt=0)  # seconds between health checks of endpoints and followers


class AbiConfig(Strict):
    """Extra ABIs for decoding events of contracts outside the manifests (any emitter)."""

    files: list[str] = Field(default_factory=list)      # JSON ABI files or forge artifacts
    artifacts: list[str] = Field(default_factory=list)  # forge `out/` directories


class Settings(Strict):
    networks: dict[str, NetworkConfig] = Field(min_length=1)
    protocols: dict[str, ProtocolConfig] = Field(default_factory=dict)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    abis: AbiConfig = Field(default_factory=AbiConfig)
    # The responder's sections (models in watchdog.respond.config).
    playbooks: list[Playbook] = Field(default_factory=list)
    notifiers: dict[str, NotifierConfig] = Field(default_factory=dict)
    signers: dict[str, SignerConfig] = Field(default_factory=dict)
    responder: ResponderSection = Field(default_factory=ResponderSection)
    # Where relative paths (manifests, ABI files, rule dirs, sqlite files) are read from.
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    def path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def store_url(self) -> str:
        url = self.store.url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            return "sqlite:///" + str(self.path(url.removeprefix("sqlite:///")))
        return url


class Protocol(BaseModel):
    """A protocol resolved for one network: its contracts, ABIs inline (paths already read)."""

    name: str
    network: str
    manifest: Manifest


# --- fixes suggested per kind of problem ---
_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
    "int_parsing": "write a whole number without quotes",
    "int_type": "write a whole number without quotes",
    "float_parsing": "write a number without quotes",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "string_type": "write a quoted string",
    "list_type": 'write a list, e.g. ["..."]',
    "dict_type": "write a table",
    "model_type": "write a table",
    "greater_than": "raise it",
    "greater_than_equal": "raise it",
    "less_than_equal": "lower it",
    "too_short": "give at least one entry",
    "literal_error": "use one of the allowed values",
}


def _line(source: str, loc: tuple[Any, ...], error: dict[str, Any]) -> str:
    key = ".".join(str(p) for p in loc if not str(p).startswith("function-")) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    given = "" if error["type"] in ("missing", "extra_forbidden") or isinstance(error.get("input"), dict) else f" (got {error.get('input')!r})"
    fix = _FIXES.get(error["type"])
    return f"{source}: {key}: {message}{given}" + (f": {fix}" if fix else "")


def parse_settings(raw: dict[str, Any], source: str = "config", base_dir: Path | None = None) -> Settings:
    """Validate a config mapping; ConfigError with one line per problem."""
    problems: list[str] = []
    try:
        settings = Settings.model_validate({**raw, "base_dir": base_dir or Path.cwd()})
    except ValidationError as exc:
        raise ConfigError("\n".join(_line(source, tuple(e["loc"]), e) for e in exc.errors())) from exc
    for name, protocol in settings.protocols.items():
        if protocol.network is not None and protocol.network not in settings.networks:
            problems.append(f"{source}: protocols.{name}.network: unknown network {protocol.network!r}: "
                            f"use one of {', '.join(sorted(settings.networks))}")
        elif protocol.network is None and len(settings.networks) > 1:
            problems.append(f"{source}: protocols.{name}.network: missing (there are several networks): add it")
        if protocol.manifest is not None and not settings.path(protocol.manifest).is_file():
            problems.append(f"{source}: protocols.{name}.manifest: file {settings.path(protocol.manifest)} does not exist: "
                            "fix the path (relative to the config file)")
    for n, directory in enumerate(settings.rules.rule_dirs):
        if not settings.path(directory).is_dir():
            problems.append(f"{source}: rules.rule_dirs.{n}: directory {settings.path(directory)} does not exist: fix the path")
    if problems:
        raise ConfigError("\n".join(problems))
    return settings


def load_settings(path: Path | str) -> Settings:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"config {path} cannot be read ({exc.strerror}): create it with `watchdog init`") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_settings(raw, str(path), path.resolve().parent)


def zero_config(manifest_path: Path | str, rpc_urls: list[str], ws_url: str | None = None, store_url: str | None = None) -> Settings:
    """`watchdog run --manifest FILE --rpc URL`: one network, every manifest contract, default rules."""
    manifest = load_manifest(manifest_path)
    network = {"chain_id": manifest.chain_id, "rpc_urls": rpc_urls, "start_block": manifest.block}
    if ws_url:
        network["ws_url"] = ws_url
    raw: dict[str, Any] = {"networks": {"default": network},
                           "protocols": {"default": {"manifest": str(Path(manifest_path).resolve())}}}
    if store_url:
        raw["store"] = {"url": store_url}
    return parse_settings(raw, "command line")


def resolve_protocols(settings: Settings) -> list[Protocol]:
    """Every protocol as a manifest of its own network (ABI paths read, addresses lowercase)."""
    out: list[Protocol] = []
    for name, config in settings.protocols.items():
        network = config.network or next(iter(settings.networks))
        chain_id = settings.networks[network].chain_id
        contracts: list[ContractEntry] = []
        block = settings.networks[network].start_block or 0
        safe = None
        if config.manifest is not None:
            manifest = load_manifest(settings.path(config.manifest))
            if manifest.chain_id != chain_id:
                raise ConfigError(f"protocols.{name}.manifest: chain id {manifest.chain_id} differs from "
                                  f"networks.{network}.chain_id {chain_id}: point it at the right network")
            contracts += [_inline(manifest, entry) for entry in manifest.contracts]
            block, safe = manifest.block, manifest.safe
        if config.contracts:
            holder = Manifest(chain_id=chain_id, contracts=config.contracts, source=settings.base_dir / "config")
            contracts += [_inline(holder, entry) for entry in config.contracts]
        out.append(Protocol(name=name, network=network,
                            manifest=Manifest(chain_id=chain_id, block=block, contracts=contracts, safe=safe)))
    return out


def _inline(manifest: Manifest, entry: ContractEntry) -> ContractEntry:
    return entry.model_copy(update={"address": entry.address.lower(), "abi": manifest.abi_of(entry)})


EXAMPLE = '''\
# watchdog configuration. Relative paths are read from this file's directory.
# Validate it with `watchdog run --config watchdog.toml --check`.

# One table per network to follow.
[networks.mainnet]
chain_id = 1
# Several endpoints: requests go to the healthiest one and fail over on errors.
rpc_urls = ["http://127.0.0.1:8545"]
# WebSocket for new heads and pending transactions (lower latency); HTTP polling is the fallback.
ws_url = "ws://127.0.0.1:8545"
# 0 = detect on the head itself; findings of blocks that get reorged out are retracted.
confirmations = 0
poll_interval = 1.0        # seconds between polls when no WebSocket head arrives
reorg_window = 64          # recent blocks remembered to find the fork point of a reorg
max_log_range = 2000       # most blocks per eth_getLogs; halved automatically when a provider refuses
# start_block = 19000000   # where to start without a checkpoint (default: the manifest's block, else the head)
mempool = false            # simulate pending transactions that reach watched contracts (needs debug_traceCall)

# Protocols to watch: a deployment manifest, or contracts listed here (or both).
[protocols.demo]
network = "mainnet"
manifest = "manifest.json"

# [[protocols.other.contracts]]
# name = "Vault"
# address = "0x0000000000000000000000000000000000000000"
# role = "vault"            # market, vault, lending, oracle_feed, oracle_adapter, twap_oracle, amm_pair, router, token, flash_lender, guardian, safe, other
# abi = "abi/Vault.json"    # JSON ABI or forge artifact

# Rules: every built-in rule runs with its defaults (`watchdog rules list` shows each rule, its checks and
# parameters). A table per rule id changes a whole rule; a table per check id changes one check.
[rules]
rule_dirs = []              # directories with your own rule modules
allowlist = []              # addresses (MEV bots, keepers) whose findings stay below pause level

# [rules.oracle-health]     # the whole rule: enabled, and parameters for all its checks
# heartbeat = 7200
# [rules."oracle-health.move"]   # one check (findings carry its id): enabled, and parameters it uses
# enabled = false

# Extra ABIs to decode events of contracts that are not in a manifest (e.g. flash lenders).
[abis]
files = []
artifacts = []              # forge out/ directories

[store]
url = "sqlite:///watchdog.db"   # or postgresql://user:password@host:5432/db (pip install 'defi-watchdog[postgres]')

[metrics]
enabled = true
host = "127.0.0.1"
port = 9464                 # GET /metrics (Prometheus) and GET /health

[logging]
level = "info"
json = false                # one JSON object per line

[schedule]
rules_interval = 60         # seconds between scheduled rule runs (oracle heartbeats, ...)
health_interval = 15

# Response: playbooks (conditions -> actions), notifiers and signers. Every action can be a dry run.
# [[playbooks]]
# name = "contain"
# when = { rules = ["drain*", "flash-loan*"], min_severity = "high", min_confidence = 0.8, count = 1, window_seconds = 3600 }
# actions = [{ type = "notify" }, { type = "pause", targets = ["affected"] }, { type = "propose" }]
# dry_run = false

# [notifiers.ops]
# type = "webhook"          # webhook | slack | discord | telegram | pagerduty
# url = "https://hooks.example.org/watchdog"
# secret_env = "WATCHDOG_WEBHOOK_SECRET"   # HMAC-SHA256 of timestamp.body in X-Watchdog-Signature
# min_severity = "high"

# [signers.responder]       # the key that sends pauses (RESPONDER_ROLE on the guardian)
# keystore = "keys/responder.json"
# password_env = "WATCHDOG_RESPONDER_PASSWORD"   # or password_file = "..."; or key_env = "..." alone

# [responder.executor]
# min_priority_fee_gwei = 2
# emergency_cap_gwei = 1000  # never pay more per gas than this
# bump_percent = 25          # re-price every block until mined (replacements need +10% on both fees)
# [responder.incidents]
# window_seconds = 3600        # findings of one protocol (or one attacker) this close share an incident
# open_min_severity = "medium" # lower findings (arbitrage, allowlisted keepers) only join an open incident
# [responder.safe_service]
# url = "http://127.0.0.1:8000"   # a Safe Transaction Service
'''
