"""RPC through the proxy the environment names: a request to a remote node goes through HTTP_PROXY (with its
credentials in Proxy-Authorization), NO_PROXY and this machine's own nodes are reached directly, and a proxy URL
that is not HTTP is one line that never shows its password."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest

from watchdog.chain.rpc import RpcClient, RpcUnavailable
from watchdog.devnet import Anvil
from watchdog.errors import ConfigError

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
REMOTE = "node.invalid"  # resolves nowhere: only the proxy can reach it


class ForwardingProxy(ThreadingHTTPServer):
    """A forward proxy that sends every request for any host to the port it names on this machine, and keeps what
    it was asked: the absolute URL and the Proxy-Authorization header."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.seen: list[tuple[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: ForwardingProxy

    def do_POST(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        answer = httpx.post(f"http://127.0.0.1:{target.port}{target.path or '/'}", content=body,
                            headers={"Content-Type": "application/json"}, timeout=10, trust_env=False)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardingProxy]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    server = ForwardingProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def remote_url(anvil: Anvil) -> str:
    return f"http://{REMOTE}:{urlsplit(anvil.url).port}"


def test_a_remote_node_is_reached_through_the_proxy_with_its_credentials(anvil: Anvil, proxy: ForwardingProxy,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://ops:s%40cret@"))
    client = RpcClient(remote_url(anvil), retries=0)
    try:
        assert int(client.call("eth_chainId"), 16) == int(anvil.rpc("eth_chainId"), 16)
    finally:
        client.close()
    [(path, authorization)] = proxy.seen
    assert urlsplit(path).hostname == REMOTE
    assert authorization == "Basic " + base64.b64encode(b"ops:s@cret").decode()


def test_no_proxy_and_this_machines_nodes_go_direct(anvil: Anvil, proxy: ForwardingProxy,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    local = RpcClient(anvil.url, retries=0)
    try:
        assert local.call("eth_chainId")
    finally:
        local.close()
    monkeypatch.setenv("NO_PROXY", f"example.org,{REMOTE}")
    bypassed = RpcClient(remote_url(anvil), retries=0, timeout=3)
    try:
        with pytest.raises(RpcUnavailable):  # straight to a name that resolves nowhere
            bypassed.call("eth_chainId")
    finally:
        bypassed.close()
    assert proxy.seen == []


def test_a_proxy_that_is_not_http_is_one_line_without_its_password(proxy: ForwardingProxy,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://ops:hunter2@10.0.0.1:1080")
    with pytest.raises(ConfigError) as error:
        RpcClient("https://rpc.example.org")
    message = str(error.value)
    assert "HTTPS_PROXY is not an http:// or https:// proxy URL" in message
    assert "hunter2" not in message and "\n" not in message
