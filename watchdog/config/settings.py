"""The one typed configuration: TOML validated with pydantic, every problem reported as one line.

Sections: networks, protocols, rules, store, metrics, logging, schedule, abis, and the responder's
playbooks, notifiers, signers and `[responder]` (models in watchdog.config.response). Each section goes to
the component that owns it; `Settings.response()` is the responder's part as one typed model.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator, model_validator

from watchdog.chain.http import MiB
from watchdog.errors import ConfigError
from watchdog.manifest import ContractEntry, load_manifest
from watchdog.config.response import (CommunicationsConfig, NotifierConfig, Playbook, ResponderSection, ResponseConfig,
                                      SignerConfig)
from watchdog.validation import Address, plain, problem_lines, read_capped, shown

DEFAULT_STORE = "sqlite:///watchdog.db"
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NetworkConfig(Strict):
    chain_id: int = Field(gt=0)
    rpc_urls: list[str] = Field(min_length=1)
    ws_url: str | None = None
    confirmations: int = Field(0, ge=0)          # 0: detection on the head itself (findings stay reorg-safe)
    poll_interval: float = Field(1.0, gt=0)      # seconds; the fallback when no WebSocket head arrives
    reorg_window: int = Field(64, ge=1)          # recent block hashes kept to find a fork point
    backfill: Literal["complete", "logs"] = "complete"  # catch-up reads every block (complete) or those with logs
    max_log_range: int = Field(2000, ge=1)       # most blocks per eth_getLogs (halved when a provider refuses)
    start_block: int | None = Field(None, ge=0)  # first block when there is no checkpoint yet
    mempool: StrictBool = False                  # follow pending transactions (needs debug_traceCall)
    timeout: float = Field(10.0, gt=0, le=3600)  # seconds a request may take, connection and whole answer
    max_answer_mb: float = Field(64.0, gt=0)     # a larger answer (HTTP or WebSocket) is refused: the endpoint fails

    @field_validator("rpc_urls")
    @classmethod
    def _http(cls, urls: list[str]) -> list[str]:
        for n, url in enumerate(urls):
            _check_url(url, ("http", "https"), f"entry {n}")
        return urls

    @field_validator("ws_url")
    @classmethod
    def _ws(cls, url: str | None) -> str | None:
        if url is not None:
            _check_url(url, ("ws", "wss"), "it")
        return url

    @property
    def max_answer_bytes(self) -> int:
        return int(self.max_answer_mb * MiB)


def _check_url(url: str, schemes: tuple[str, ...], what: str) -> None:
    """A URL of one of `schemes` with a host; the problem never repeats the URL (it may hold a key)."""
    scheme, sep, rest = url.partition("://")
    wanted = f"{' or '.join(f'{s}://' for s in schemes)} followed by the host and port"
    if not sep:
        raise ValueError(f"{what} is not a URL: write {wanted}")
    if scheme.lower() not in schemes:
        named = f"scheme {scheme!r}" if scheme.isalnum() and len(scheme) <= 10 else "another scheme"
        raise ValueError(f"{what} has {named}: write {wanted}")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if not host or any(c.isspace() for c in url):
        raise ValueError(f"{what} has no host, or spaces: write {wanted}")


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
    enabled: StrictBool = True

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, RuleConfig] = Field(init=False)  # type: ignore[assignment]
    rule_dirs: list[str] = Field(default_factory=list)
    allowlist: list[Address] = Field(default_factory=list)  # addresses whose findings stay below pause level

    def settings(self) -> dict[str, dict[str, Any]]:
        return {rule_id: {"enabled": rule.enabled, **rule.params} for rule_id, rule in (self.__pydantic_extra__ or {}).items()}


class StoreConfig(Strict):
    url: str = DEFAULT_STORE

    @field_validator("url")
    @classmethod
    def _kind(cls, url: str) -> str:
        if not url.startswith(("sqlite:///", "postgres://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("is neither sqlite:///PATH nor a postgresql:// URL: write one of these")
        return url


class MetricsConfig(Strict):
    enabled: StrictBool = True
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)  # 0: any free port


DEFAULT_CONFIG = Path("watchdog.toml")  # what the commands read when no --config is given


class UiConfig(Strict):
    """The web page for signers and responders (`watchdog ui`; with `enabled`, also served by `watchdog run`). Writes
    need the token held in the environment variable `token_env` (never in this file); unset, the page is read-only."""

    enabled: StrictBool = False
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)  # 0: any free port
    token_env: str = Field("WATCHDOG_UI_TOKEN", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class LoggingConfig(Strict):
    level: str = "info"
    json_format: StrictBool = Field(False, alias="json")

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError(f"{value!r} is not one of debug, info, warning, error")
        return value.lower()


class ScheduleConfig(Strict):
    rules_interval: float = Field(60.0, gt=0)   # seconds between scheduled rule runs (oracle heartbeats...)


class ScanConfig(Strict):
    """Source scans of new deployments: when the source of a contract the suspicious-deployment rule reports can be
    found, slither and watchdog's detectors run on it in the background and their findings join the finding's
    evidence."""

    deployments: bool = True
    artifacts: list[str] = Field(default_factory=list)  # forge `out/` folders
    sourcify: str | None = None                         # a Sourcify-format folder (full_match/<chain>/<address>/)
    explorer_api: str | None = None                     # an Etherscan-compatible API
    explorer_key_env: str | None = None                 # the environment variable holding its key
    timeout: float = Field(300.0, gt=0)                 # seconds per scan
    max_memory_mb: int = Field(4096, ge=256)


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
    ui: UiConfig = Field(default_factory=UiConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    abis: AbiConfig = Field(default_factory=AbiConfig)
    scan: ScanConfig = Field(default_factory=ScanConfig)
    # The responder's sections (models in watchdog.config.response; `response()` gives them as one).
    playbooks: list[Playbook] = Field(default_factory=list)
    notifiers: dict[str, NotifierConfig] = Field(default_factory=dict)
    signers: dict[str, SignerConfig] = Field(default_factory=dict)
    responder: ResponderSection = Field(default_factory=ResponderSection)
    communications: CommunicationsConfig = Field(default_factory=CommunicationsConfig)
    # Where relative paths (manifests, ABI files, rule dirs, sqlite files) are read from.
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    source: str = Field("config", exclude=True)  # the file (or "command line") problems are reported against

    def path(self, value: str) -> Path:
        path = Path(value)
        try:
            path = path.expanduser()
        except RuntimeError:  # "~someone" with no such user: the path stays as written
            pass
        return path if path.is_absolute() else self.base_dir / path

    def response(self) -> ResponseConfig:
        """The responder's sections as one model: notifiers named by their tables, key files read relative to
        this configuration's directory."""
        signers = {name: signer.model_copy(update={key: self.path(str(value)) for key in ("keystore", "password_file")
                                                   if (value := getattr(signer, key)) is not None})
                   for name, signer in self.signers.items()}
        return ResponseConfig(playbooks=self.playbooks, signers=signers,
                              notifiers=[n.model_copy(update={"name": name}) for name, n in self.notifiers.items()],
                              max_action_age=self.responder.max_action_age, executor=self.responder.executor,
                              incidents=self.responder.incidents,
                              safe_service=self.responder.safe_service)

    def store_url(self) -> str:
        url = self.store.url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            return "sqlite:///" + str(self.path(url.removeprefix("sqlite:///")))
        return url


def parse_settings(raw: dict[str, Any], source: str = "config", base_dir: Path | None = None) -> Settings:
    """Validate a config mapping; ConfigError with one line per problem."""
    problems: list[str] = [f"{source}: {key}: not a configuration key: remove it" for key in ("base_dir", "source")
                           if isinstance(raw, dict) and key in raw]
    try:
        settings = Settings.model_validate({**raw, "base_dir": base_dir or Path.cwd(), "source": source})
    except ValidationError as exc:
        raise ConfigError("\n".join(problem_lines(source, exc))) from None
    for name, protocol in settings.protocols.items():
        if protocol.network is not None and protocol.network not in settings.networks:
            problems.append(f"{source}: protocols.{plain(name)}.network: unknown network {shown(protocol.network)}: "
                            f"use one of {', '.join(plain(n) for n in sorted(settings.networks))}")
        elif protocol.network is None and len(settings.networks) > 1:
            problems.append(f"{source}: protocols.{plain(name)}.network: missing (there are several networks): add it")
        if protocol.manifest is not None and not settings.path(protocol.manifest).is_file():
            problems.append(f"{source}: protocols.{plain(name)}.manifest: file {shown(str(settings.path(protocol.manifest)))} "
                            "does not exist: fix the path (relative to the config file)")
    for n, directory in enumerate(settings.rules.rule_dirs):
        if not settings.path(directory).is_dir():
            problems.append(f"{source}: rules.rule_dirs.{n}: directory {shown(str(settings.path(directory)))} does not exist: "
                            "fix the path")
    for n, name in enumerate(settings.communications.notifiers):
        if name not in settings.notifiers:
            problems.append(f"{source}: communications.notifiers.{n}: no notifier named {name!r}: use one of "
                            f"[notifiers] ({', '.join(sorted(settings.notifiers)) or 'none configured'})")
    if problems:
        raise ConfigError("\n".join(problems))
    return settings


def load_settings(path: Path | str) -> Settings:
    path = Path(path)
    data = read_capped(path, MAX_CONFIG_BYTES,
                       lambda reason: f"config {path} cannot be read ({reason}): create it with `watchdog init`",
                       f"{path}: (top level): larger than {MAX_CONFIG_BYTES // MiB} MiB: is it the configuration?")
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: (top level): not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nest too deeply") from None
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


def command_settings(config: Path | None, manifest: Path | None, rpc: list[str], ws: str | None = None,
                     store: str | None = None) -> Settings:
    """What a command runs with: the config file (`--config`, else ./watchdog.toml), or zero-config from a manifest
    and RPC URLs; `store` overrides the store's URL."""
    if manifest is not None or rpc:
        if config is not None:
            raise ConfigError("give either --config or --manifest with --rpc, not both")
        if manifest is None or not rpc:
            raise ConfigError("without a config, the command needs both --manifest FILE and --rpc URL")
        return zero_config(manifest, rpc, ws, store)
    path = config or DEFAULT_CONFIG
    if config is None and not path.exists():
        raise ConfigError(f"no {path} here: create one with `watchdog init`, pass --config FILE, "
                          "or give --manifest FILE --rpc URL")
    settings = load_settings(path)
    if store:
        settings.store.url = store
    return settings
