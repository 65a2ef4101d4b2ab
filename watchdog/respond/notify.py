"""Notifications over httpx: generic webhook (JSON, HMAC-SHA256 signed), Slack, Discord, Telegram and
PagerDuty Events v2. Retries with exponential backoff; one incident is one thread of messages.

Messages go out from one worker thread in order (the first message of an incident creates its thread,
the next ones reply in it). Secrets (tokens, routing keys, HMAC secrets) are read from environment
variables and never put in a log line or an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from sqlalchemy.exc import IntegrityError

from watchdog.finding import Severity
from watchdog.errors import ConfigError
from watchdog.config.response import NotifierConfig
from watchdog.store import Store, incidents
from watchdog.store.responder import NotificationThread

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Watchdog-Signature"
TIMESTAMP_HEADER = "X-Watchdog-Timestamp"
PAGERDUTY_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info"}


@dataclass(slots=True)
class Notice:
    incident_id: int
    network: str
    protocol: str | None
    severity: str
    status: str
    kind: str  # opened | escalated | action | contained | resolved
    title: str
    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    at: str = ""

    @property
    def headline(self) -> str:
        return f"[{self.severity.upper()}] incident #{self.incident_id} {self.protocol or self.network}: {self.title}"


class DeliveryError(Exception):
    """A notifier gave up (after retries, or on an answer that retrying cannot fix)."""


class Notifier:
    """Posts a notice; returns the thread reference created by the first message of an incident."""

    def __init__(self, config: NotifierConfig, client: httpx.Client) -> None:
        self.config = config
        self.client = client
        self.token = _env(config.token_env, config.name) if config.token_env else None
        self.secret = _env(config.secret_env, config.name) if config.secret_env else None

    def post(self, notice: Notice, thread: str | None) -> str | None:
        raise NotImplementedError

    def _request(self, url: str, *, body: dict[str, Any], headers: dict[str, str] | None = None,
                 params: dict[str, str] | None = None, content: bytes | None = None) -> httpx.Response:
        """POST with retries on transport errors, 429 and 5xx; exponential backoff (Retry-After honoured)."""
        attempts = self.config.max_attempts
        for attempt in range(attempts):
            retry_after: str | None = None
            try:
                response = self.client.post(url, content=content if content is not None else json.dumps(body).encode(),
                                            headers={"Content-Type": "application/json", **(headers or {})},
                                            params=params, timeout=self.config.timeout_seconds)
            except httpx.HTTPError as exc:
                reason = exc.__class__.__name__  # never the URL: it may carry a token
            else:
                if response.status_code < 300:
                    return response
                reason = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    raise DeliveryError(f"{self.config.name}: refused ({reason})")
                retry_after = response.headers.get("Retry-After")
            if attempt + 1 < attempts:
                delay = self.config.backoff_seconds * (2 ** attempt)
                if retry_after and retry_after.isdigit():
                    delay = min(float(retry_after), 30.0)
                time.sleep(delay)
        raise DeliveryError(f"{self.config.name}: gave up after {attempts} attempts ({reason})")


class WebhookNotifier(Notifier):
    """JSON POST; `X-Watchdog-Signature: sha256=<hex HMAC-SHA256 of timestamp + "." + body>`."""

    def post(self, notice: Notice, thread: str | None) -> str | None:
        ref = thread or f"incident-{notice.incident_id}"
        body = {"type": f"incident.{notice.kind}", "thread": ref, "headline": notice.headline, **asdict(notice)}
        content = json.dumps(body, sort_keys=True).encode()
        headers = {}
        if self.secret is not None:
            stamp = str(int(time.time()))
            digest = hmac.new(self.secret.encode(), stamp.encode() + b"." + content, hashlib.sha256).hexdigest()
            headers = {SIGNATURE_HEADER: f"sha256={digest}", TIMESTAMP_HEADER: stamp}
        self._request(self.config.url, body=body, headers=headers, content=content)
        return ref


class SlackNotifier(Notifier):
    """Web API `chat.postMessage` with a bot token; replies carry `thread_ts` of the first message."""

    def post(self, notice: Notice, thread: str | None) -> str | None:
        body: dict[str, Any] = {"channel": self.config.channel, "text": f"{notice.headline}\n{notice.text}",
                                "unfurl_links": False}
        if thread:
            body["thread_ts"] = thread
        response = self._request(self.config.url.rstrip("/") + "/chat.postMessage", body=body,
                                 headers={"Authorization": f"Bearer {self.token}"})
        answer = response.json()
        if not answer.get("ok"):
            raise DeliveryError(f"{self.config.name}: Slack answered {answer.get('error', 'not ok')}")
        return thread or answer.get("ts")


class DiscordNotifier(Notifier):
    """Webhook of a forum channel: the first message opens a thread (`thread_name`), replies go to it
    with `?thread_id=`; `wait=true` returns the message with its `channel_id` (the thread)."""

    def post(self, notice: Notice, thread: str | None) -> str | None:
        body: dict[str, Any] = {"content": f"**{notice.headline}**\n{notice.text}"[:2000],
                                "allowed_mentions": {"parse": []}}
        params = {"wait": "true"}
        if thread:
            params["thread_id"] = thread
        else:
            body["thread_name"] = f"Incident #{notice.incident_id}: {notice.title}"[:100]
        response = self._request(self.config.url, body=body, params=params)
        return thread or str(response.json().get("channel_id"))


class TelegramNotifier(Notifier):
    """Bot API `sendMessage`; replies use `reply_parameters.message_id` of the first message."""

    def post(self, notice: Notice, thread: str | None) -> str | None:
        body: dict[str, Any] = {"chat_id": self.config.channel, "text": f"{notice.headline}\n{notice.text}"[:4096]}
        if thread:
            body["reply_parameters"] = {"message_id": int(thread), "allow_sending_without_reply": True}
        response = self._request(f"{self.config.url.rstrip('/')}/bot{self.token}/sendMessage", body=body)
        answer = response.json()
        if not answer.get("ok"):
            raise DeliveryError(f"{self.config.name}: Telegram answered not ok")
        return thread or str(answer["result"]["message_id"])


class PagerDutyNotifier(Notifier):
    """Events API v2 (`/v2/enqueue`): one alert per incident through its `dedup_key`; resolve on resolution."""

    def post(self, notice: Notice, thread: str | None) -> str | None:
        dedup_key = thread or f"watchdog-{notice.network}-incident-{notice.incident_id}"
        action = {"resolved": "resolve", "contained": "acknowledge"}.get(notice.kind, "trigger")
        body: dict[str, Any] = {"routing_key": self.token, "event_action": action, "dedup_key": dedup_key}
        if action == "trigger":
            body["payload"] = {
                "summary": notice.headline[:1024],
                "source": f"watchdog/{notice.network}",
                "severity": PAGERDUTY_SEVERITY.get(notice.severity, "error"),
                "component": notice.protocol or notice.network,
                "class": notice.kind,
                "custom_details": {"text": notice.text, **notice.fields},
            }
            if notice.at:
                body["payload"]["timestamp"] = notice.at
        self._request(self.config.url, body=body)
        return dedup_key


KINDS: dict[str, type[Notifier]] = {"webhook": WebhookNotifier, "slack": SlackNotifier, "discord": DiscordNotifier,
                                    "telegram": TelegramNotifier, "pagerduty": PagerDutyNotifier}


class Notifications:
    """The notifiers of the config, fed from one queue in order."""

    def __init__(self, store: Store, configs: list[NotifierConfig]) -> None:
        self.store = store
        self.client = httpx.Client()
        self.notifiers = {c.name: KINDS[c.type](c, self.client) for c in configs}
        self._queue: queue.Queue[tuple[Notice, list[str] | None] | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    def publish(self, notice: Notice, names: list[str] | None = None) -> None:
        if not self.notifiers:
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="notifications", daemon=True)
            self._worker.start()
        self._queue.put((notice, names))

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued notice was delivered or given up."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(5)
        self.client.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self.deliver(*item)
            finally:
                self._queue.task_done()

    def deliver(self, notice: Notice, names: list[str] | None = None) -> None:
        for name, notifier in self.notifiers.items():
            if names and name not in names:
                continue
            if Severity(notice.severity) < notifier.config.min_severity and notice.kind not in ("contained", "resolved"):
                continue
            thread = self._thread(notice.incident_id, name)
            try:
                ref = notifier.post(notice, thread)
            except (DeliveryError, ValueError, KeyError) as exc:
                log.warning("notification of incident %d via %s failed: %s", notice.incident_id, name, exc)
                self.store.audit("responder", "notify_failed", name, incident_id=notice.incident_id, error=str(exc))
                continue
            if thread is None and ref:
                try:
                    with self.store.session() as s:
                        s.add(NotificationThread(incident_id=notice.incident_id, notifier=name, ref=ref))
                except IntegrityError:
                    pass
            self.store.audit("responder", "notified", name, incident_id=notice.incident_id, kind=notice.kind)

    def _thread(self, incident_id: int, name: str) -> str | None:
        with self.store.session() as s:
            row = incidents.thread(s, incident_id, name)
        return row.ref if row else None


def _env(variable: str | None, notifier: str) -> str:
    value = os.environ.get(variable or "")
    if not value:
        raise ConfigError(f"notifier {notifier}: environment variable {variable} is not set: export the secret there")
    return value
