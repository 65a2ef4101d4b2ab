"""The response sections of the configuration: playbooks, notifiers, signers, executor limits, incidents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from watchdog.finding import Severity
from watchdog.keys import KeySource

GWEI = 10**9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignerConfig(_Strict):
    """A signing key: an encrypted keystore with its password in an env variable or a file, or a key in
    an env variable. The key itself never appears in the config."""

    keystore: Path | None = None
    password_env: str | None = None
    password_file: Path | None = None
    key_env: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "SignerConfig":
        if (self.keystore is None) == (self.key_env is None):
            raise ValueError("set exactly one of `keystore` (with `password_env` or `password_file`) or `key_env`")
        if self.keystore is not None and not (self.password_env or self.password_file):
            raise ValueError("a keystore needs `password_env` or `password_file`")
        return self

    def source(self) -> KeySource:
        return KeySource(self.keystore, self.password_env, self.password_file, self.key_env)


class ExecutorSettings(_Strict):
    """How the pause executor prices and watches its transactions."""

    signer: str = "responder"  # name of the key in [signers]
    min_priority_fee_gwei: float = Field(2.0, ge=0)
    emergency_cap_gwei: float = Field(1000.0, gt=0)  # never pay more than this per gas
    bump_percent: int = Field(25, ge=10)  # replacement: both fees up by at least 10%
    preemptive_factor: float = Field(2.0, ge=1.0)  # pending attack: our tip = attack tip * factor + 1 gwei
    gas_margin: float = Field(1.3, ge=1.0)
    poll_seconds: float = Field(0.05, gt=0)
    give_up_blocks: int = Field(100, ge=1)  # stop re-pricing after this many blocks (the action stays open)


class Condition(_Strict):
    """Which findings a playbook reacts to."""

    rules: list[str] = ["*"]  # rule ids, shell-style patterns allowed
    min_severity: Severity = Severity.HIGH
    min_confidence: float = Field(0.0, ge=0.0, le=1.0)
    protocols: list[str] = []  # empty: any protocol
    count: int = Field(1, ge=1)  # matching findings needed within the window
    window_seconds: int = Field(3600, ge=1)
    pending: StrictBool | None = None  # only mempool findings (true), only mined (false), both (unset)


class PlaybookAction(_Strict):
    type: Literal["notify", "pause", "propose"]
    notifiers: list[str] = []  # notify: names in [notifiers]; empty: all
    targets: list[str] = ["affected"]  # pause/propose: manifest names, "affected" or "all"
    dry_run: StrictBool = False


class Playbook(_Strict):
    name: str
    when: Condition = Condition()
    actions: list[PlaybookAction]
    dry_run: StrictBool = False  # every action of the playbook in dry-run
    enabled: StrictBool = True


class NotifierConfig(_Strict):
    name: str = ""  # set from the table name in `[notifiers.<name>]`
    type: Literal["webhook", "slack", "discord", "telegram", "pagerduty"]
    url: str  # webhook URL, Slack/Telegram API base, Discord webhook URL, PagerDuty events URL
    secret_env: str | None = None  # webhook: HMAC-SHA256 secret
    token_env: str | None = None  # slack: bot token; telegram: bot token; pagerduty: routing key
    channel: str | None = None  # slack channel id / telegram chat id
    min_severity: Severity = Severity.LOW
    max_attempts: int = Field(4, ge=1)
    backoff_seconds: float = Field(0.5, ge=0)
    timeout_seconds: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _needs(self) -> "NotifierConfig":
        if self.type in ("slack", "telegram", "pagerduty") and not self.token_env:
            what = {"slack": "bot token", "telegram": "bot token", "pagerduty": "routing key"}[self.type]
            raise ValueError(f"a {self.type} notifier needs `token_env` naming the env variable with its {what}")
        if self.type in ("slack", "telegram") and not self.channel:
            raise ValueError(f"a {self.type} notifier needs `channel` (channel or chat id)")
        return self


class SafeServiceConfig(_Strict):
    url: str  # base URL of a Safe Transaction Service
    origin: str = "watchdog"


class IncidentSettings(_Strict):
    window_seconds: int = Field(3600, ge=1)  # findings of one protocol closer than this share an incident
    # a finding below this opens no incident (unless a playbook acts on it): it only joins an open one.
    # Medium: info and low (arbitrage, allowlisted keepers) are context, never the start of an incident.
    open_min_severity: Severity = Severity.MEDIUM


class ActionAge(_Strict):
    """How far behind the head a finding may have been judged and still be acted on (whichever is shorter).
    Older ones (a backfill after downtime, a first run from the deployment block) are history: stored,
    reported and notified as historical, never a pause or a proposal."""

    blocks: int = Field(5, ge=0)
    seconds: int = Field(120, ge=0)

    def exceeded(self, age: tuple[int, int] | None) -> bool:
        return age is not None and (age[0] > self.blocks or age[1] > self.seconds)


class StressSettings(_Strict):
    """`[responder.stress]`: an incident's stress view, played on a local fork (anvil) when the incident opens."""

    on_incident: bool = True
    max_slippage: float = Field(0.05, gt=0, lt=1)  # how far a sale may move a pool and still count as absorbed


class ResponderSection(_Strict):
    """`[responder]`: how the executor prices, how incidents group, where Safe proposals are posted, and how
    old a finding may be to be acted on."""

    max_action_age: ActionAge = ActionAge()
    executor: ExecutorSettings = ExecutorSettings()
    incidents: IncidentSettings = IncidentSettings()
    safe_service: SafeServiceConfig | None = None
    stress: StressSettings = StressSettings()


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _contact(value: str | None) -> str | None:
    """An email address or an http(s) URL."""
    if value is not None and not (_EMAIL.match(value) or value.startswith(("https://", "http://", "mailto:"))):
        raise ValueError(f"{value!r} is neither an email address nor an http(s) URL")
    return value


class CommunicationsConfig(_Strict):
    """`[communications]`: what an incident's messages say about reaching the protocol and where they go. Messages
    are drafted on the incident's timeline and only sent after review, through `notifiers` (internal channels)."""

    protocol_name: str | None = None           # how the messages name the protocol (default: the manifest's)
    status_page: str | None = None             # URL where public status updates are posted
    status_channels: list[str] = []            # public channels that carry the status update (names, e.g. "X @proto")
    security_contact: str | None = None        # the protocol's security team: email or URL
    bug_bounty: str | None = None              # the bug-bounty program's URL
    safe_harbor: str | None = None             # the safe-harbor agreement: URL (or email of whom to reach under it)
    exchanges: list[str] = []                  # exchanges and integrators the notice goes to (names or contacts)
    security_groups: list[str] = []            # security response groups the packet goes to (names or contacts)
    notifiers: list[str] = []                  # notifiers that may send a reviewed message (names in [notifiers])

    @field_validator("security_contact", "safe_harbor")
    @classmethod
    def _reachable(cls, value: str | None) -> str | None:
        return _contact(value)

    @field_validator("status_page", "bug_bounty")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("status_channels", "exchanges", "security_groups", "notifiers")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        if any(not name.strip() for name in value):
            raise ValueError("an entry is empty: remove it or name the channel or contact")
        return value


class ResponseConfig(_Strict):
    """The responder's part of the configuration (`Settings.response()`)."""

    playbooks: list[Playbook] = []
    max_action_age: ActionAge = ActionAge()
    notifiers: list[NotifierConfig] = []
    signers: dict[str, SignerConfig] = {}
    executor: ExecutorSettings = ExecutorSettings()
    incidents: IncidentSettings = IncidentSettings()
    safe_service: SafeServiceConfig | None = None

    @field_validator("notifiers")
    @classmethod
    def _unique_names(cls, value: list[NotifierConfig]) -> list[NotifierConfig]:
        names = [n.name for n in value]
        if len(names) != len(set(names)):
            raise ValueError("notifier names must be unique")
        return value
