"""Notifications against a local HTTP server that checks each service's documented request format:
generic webhook (HMAC-SHA256), Slack chat.postMessage, Discord forum webhook, Telegram sendMessage,
PagerDuty Events v2. Retries with backoff; one incident is one thread, not a storm."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fixtures.http import JsonHandler, serve
from sqlmodel import select
from typer.testing import CliRunner

from watchdog.cli import app
from watchdog.finding import Finding, Severity
from watchdog.manifest import Manifest
from watchdog.config.response import NotifierConfig, Playbook, PlaybookAction, ResponseConfig
from watchdog.respond import Responder
from watchdog.respond.notify import Notice, Notifications
from watchdog.store import AuditEntry, Store

SECRET, SLACK_TOKEN, TG_TOKEN, PD_KEY = "hmac-secret-1", "xoxb-test-token", "123456:tg-token", "0123456789abcdef0123456789abcdef"


class Service(JsonHandler):
    """Validates requests like the real services would; records what was accepted."""

    accepted: list[tuple[str, dict]] = []
    failures: dict[str, int] = {}  # path prefix -> number of 503 answers still to give

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        kind = url.path.strip("/").split("/")[0]
        if self.failures.get(kind, 0) > 0:
            self.failures[kind] -= 1
            return self._answer(503, {"error": "try again"})
        try:
            body = json.loads(raw)
            answer = getattr(self, f"_{kind}")(url.path, query, body, raw)
        except (AssertionError, KeyError, ValueError) as exc:
            return self._answer(400, {"error": str(exc)})
        self.accepted.append((kind, {**body, "_query": query}))
        self._answer(answer.pop("_code", 200), answer)

    def _hook(self, path, query, body, raw) -> dict:
        stamp = self.headers["X-Watchdog-Timestamp"]
        expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        assert self.headers["X-Watchdog-Signature"] == f"sha256={expected}", "bad HMAC signature"
        assert self.headers["Content-Type"] == "application/json"
        assert body["incident_id"] and body["thread"] and body["type"].startswith("incident.")
        return {}

    def _slack(self, path, query, body, raw) -> dict:
        assert path == "/slack/chat.postMessage"
        assert self.headers["Authorization"] == f"Bearer {SLACK_TOKEN}", "bad token"
        assert body["channel"] == "C0123" and body["text"]
        if "thread_ts" in body:
            assert body["thread_ts"] == "1700000000.000100", "reply outside the incident thread"
        return {"ok": True, "ts": "1700000000.000100" if "thread_ts" not in body else "1700000000.000200"}

    def _discord(self, path, query, body, raw) -> dict:
        assert query.get("wait") == "true" and len(body["content"]) <= 2000
        if "thread_id" in query:
            assert query["thread_id"] == "9001" and "thread_name" not in body
        else:
            assert 0 < len(body["thread_name"]) <= 100
        return {"id": "1", "channel_id": "9001"}

    def _telegram(self, path, query, body, raw) -> dict:
        assert path == f"/telegram/bot{TG_TOKEN}/sendMessage", "bad bot path"
        assert body["chat_id"] == "-1001" and 0 < len(body["text"]) <= 4096
        if "reply_parameters" in body:
            assert body["reply_parameters"]["message_id"] == 42
        return {"ok": True, "result": {"message_id": 42 if "reply_parameters" not in body else 43}}

    def _pd(self, path, query, body, raw) -> dict:
        assert path == "/pd/v2/enqueue"
        assert body["routing_key"] == PD_KEY and len(body["routing_key"]) == 32
        assert body["event_action"] in ("trigger", "acknowledge", "resolve") and body["dedup_key"]
        if body["event_action"] == "trigger":
            payload = body["payload"]
            assert payload["summary"] and len(payload["summary"]) <= 1024 and payload["source"]
            assert payload["severity"] in ("critical", "error", "warning", "info")
        return {"_code": 202, "status": "success", "dedup_key": body["dedup_key"]}

@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {"HOOK_SECRET": SECRET, "SLACK_TOKEN": SLACK_TOKEN, "TG_TOKEN": TG_TOKEN, "PD_KEY": PD_KEY}.items():
        monkeypatch.setenv(name, value)
    Service.accepted, Service.failures = [], {}
    with serve(Service) as url:
        yield url


def notifiers(base: str) -> list[NotifierConfig]:
    fast = {"backoff_seconds": 0.01}
    return [
        NotifierConfig(name="hook", type="webhook", url=f"{base}/hook", secret_env="HOOK_SECRET", **fast),
        NotifierConfig(name="slack", type="slack", url=f"{base}/slack", token_env="SLACK_TOKEN", channel="C0123", **fast),
        NotifierConfig(name="discord", type="discord", url=f"{base}/discord/webhooks/1/abc", **fast),
        NotifierConfig(name="telegram", type="telegram", url=f"{base}/telegram", token_env="TG_TOKEN", channel="-1001", **fast),
        NotifierConfig(name="pagerduty", type="pagerduty", url=f"{base}/pd/v2/enqueue", token_env="PD_KEY", **fast),
    ]


def finding(n: int, severity: Severity = Severity.HIGH) -> Finding:
    return Finding(rule_id="oracle.deviation", title="Oracle deviates from the reference", severity=severity, confidence=0.9,
                   network="devnet", protocol="demo-perps", block_number=100 + n, tx_hash=f"0x{n:064x}",
                   addresses=["0x" + "ab" * 20], key=str(n))


def responder(tmp_path: Path, base: str) -> Responder:
    config = ResponseConfig(notifiers=notifiers(base),
                            playbooks=[Playbook(name="tell", when={"min_severity": "medium"}, actions=[PlaybookAction(type="notify")])])
    # no chain access is needed to notify: the RPC is never called
    return Responder(config, Store(f"sqlite:///{tmp_path / 'wd.db'}"), "http://127.0.0.1:9", Manifest(chain_id=31337, contracts=[]))


def test_one_incident_is_one_thread_on_every_service(tmp_path: Path, service: str) -> None:
    r = responder(tmp_path, service)
    for n in range(5):  # five findings of one incident: one opening message per service, no storm
        r.handle([finding(n)], [])
    r.handle([finding(9, Severity.CRITICAL)], [])  # escalation: a reply in the same thread
    r.wait(30)
    kinds = [k for k, _ in Service.accepted]
    assert sorted(kinds) == sorted(["hook", "slack", "discord", "telegram", "pd"] * 2)
    by = {k: [b for kk, b in Service.accepted if kk == k] for k in set(kinds)}
    assert "thread_ts" not in by["slack"][0] and by["slack"][1]["thread_ts"] == "1700000000.000100"
    assert "thread_name" in by["discord"][0] and by["discord"][1]["_query"]["thread_id"] == "9001"
    assert by["telegram"][1]["reply_parameters"]["message_id"] == 42
    assert by["pd"][0]["dedup_key"] == by["pd"][1]["dedup_key"] and by["pd"][1]["payload"]["severity"] == "critical"
    assert by["hook"][0]["thread"] == by["hook"][1]["thread"] and by["hook"][1]["type"] == "incident.escalated"
    r.close()


def test_quiet_finding_below_the_playbook_notifies_nobody(tmp_path: Path, service: str) -> None:
    r = responder(tmp_path, service)
    r.handle([finding(1, Severity.LOW)], [])
    r.wait(10)
    assert Service.accepted == []
    r.close()


def test_retries_with_backoff_then_delivers_once(tmp_path: Path, service: str) -> None:
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    Service.failures = {"hook": 2}
    hub = Notifications(store, [notifiers(service)[0]])
    hub.deliver(Notice(incident_id=1, network="devnet", protocol="p", severity="high", status="open", kind="opened",
                       title="t", text="x"))
    assert [k for k, _ in Service.accepted] == ["hook"]
    hub.close()


def test_refused_message_is_not_retried_and_is_audited(tmp_path: Path, service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    monkeypatch.setenv("SLACK_TOKEN", "wrong-token")
    hub = Notifications(store, [notifiers(service)[1]])
    hub.deliver(Notice(incident_id=1, network="devnet", protocol="p", severity="high", status="open", kind="opened",
                       title="t", text="x"))
    assert Service.accepted == []
    with store.session() as s:
        failed = s.exec(select(AuditEntry).where(AuditEntry.action == "notify_failed")).all()
    assert len(failed) == 1 and "HTTP 400" in failed[0].detail["error"] and "wrong-token" not in json.dumps(failed[0].detail)
    hub.close()


def test_resolving_closes_the_threads(tmp_path: Path, service: str) -> None:
    r = responder(tmp_path, service)
    r.handle([finding(1)], [])
    r.wait(30)
    r.close()
    Service.accepted = []
    config = tmp_path / "watchdog.toml"
    config.write_text(f"""
[networks.devnet]
chain_id = 31337
rpc_urls = ["http://127.0.0.1:9"]
[store]
url = "sqlite:///wd.db"
[notifiers.pagerduty]
type = "pagerduty"
url = "{service}/pd/v2/enqueue"
token_env = "PD_KEY"
[notifiers.slack]
type = "slack"
url = "{service}/slack"
token_env = "SLACK_TOKEN"
channel = "C0123"
""")
    out = CliRunner().invoke(app, ["incidents", "resolve", "1", "-c", str(config), "--note", "fixed and unpaused"])
    assert out.exit_code == 0, out.output
    sent = dict(Service.accepted)
    assert sent["pd"]["event_action"] == "resolve" and sent["pd"]["dedup_key"] == "watchdog-devnet-incident-1"
    assert sent["slack"]["thread_ts"] == "1700000000.000100" and "fixed and unpaused" in sent["slack"]["text"]


def test_dry_run_notify_sends_nothing(tmp_path: Path, service: str) -> None:
    config = ResponseConfig(notifiers=notifiers(service),
                            playbooks=[Playbook(name="tell", dry_run=True, actions=[PlaybookAction(type="notify")])])
    r = Responder(config, Store(f"sqlite:///{tmp_path / 'wd.db'}"), "http://127.0.0.1:9", Manifest(chain_id=31337, contracts=[]))
    result = r.handle([finding(1)], [])
    r.wait(10)
    assert Service.accepted == [] and result.dry_run and "would notify" in result.dry_run[0]
    r.close()
