"""HTTP requests with an overall deadline and a size cap (JSON-RPC endpoints, explorer APIs).

httpx and httpcore time out per socket operation: a server that sends one byte a second never trips a 10 s read
timeout, and a request to it never ends. Here every socket operation of a request (connect, TLS handshake,
write, each read) only gets the time left before the request's deadline, so a request ends by its deadline
whatever the server does, and sooner when the client is stopped (a shutdown). The answer is read in chunks and
refused as soon as it passes the size cap, before it is all in memory; it is never decompressed (no
Accept-Encoding is sent), so the cap is the size in memory.

A proxy in the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, with NO_PROXY exceptions) carries every request but
those to this machine; the deadline covers the proxy's leg too.
"""

from __future__ import annotations

import ipaddress
import math
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import certifi
import httpcore

from watchdog.errors import ConfigError

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 64 * MiB
POLL_SECONDS = 0.25  # a blocked read looks at the stop event this often

# Everything httpcore raises for a request that did not get through (it has no common base class).
_TRANSPORT_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, httpcore.ProxyError,
                     httpcore.UnsupportedProtocol, OSError)


class HttpFailure(Exception):
    """No complete answer: unreachable, refused, broken off, too slow, too large or stopped."""


class DeadlineExceeded(HttpFailure):
    """The answer was not complete by the request's deadline."""


class AnswerTooLarge(HttpFailure):
    """The answer is larger than the size cap."""


class Stopped(HttpFailure):
    """The client was stopped while the request was under way."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class _Limits(threading.local):
    """The deadline and stop event of the request this thread is making (None outside a request)."""

    deadline: float | None = None
    stop: threading.Event | None = None


_active = _Limits()


def _end_of(timeout: float | None) -> float:
    """When one socket operation must give up: its own timeout, capped by the request's deadline."""
    end = math.inf if timeout is None else time.monotonic() + timeout
    return end if _active.deadline is None else min(end, _active.deadline)


def _left(end: float) -> float:
    if _active.stop is not None and _active.stop.is_set():
        raise httpcore.ReadTimeout("stopped")
    left = end - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("deadline reached")
    return left


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose operations end by the request's deadline (reads also when stopped)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        end = _end_of(timeout)
        while True:  # short slices, so that a stop is seen while the server keeps silent
            left = _left(end)
            try:
                return self._inner.read(max_bytes, min(left, POLL_SECONDS))
            except httpcore.ReadTimeout:
                if time.monotonic() >= end:
                    raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(_end_of(timeout)))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(_end_of(timeout))))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, _bounded(_end_of(timeout)), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _bounded(_end_of(timeout)), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _bounded(end: float) -> float | None:
    return None if end == math.inf else _left(end)


class HttpClient:
    """Keep-alive connections for requests that each end by their deadline and refuse oversized answers.
    Thread-safe; `stop()` ends the requests in flight (within POLL_SECONDS of a read) and refuses new ones."""

    def __init__(self, *, connect_timeout: float = 3.0, max_keepalive: int = 8) -> None:
        self.connect_timeout = connect_timeout
        self.stopped = threading.Event()
        context = ssl.create_default_context(cafile=certifi.where())
        self._pool = httpcore.ConnectionPool(ssl_context=context, max_keepalive_connections=max_keepalive,
                                             network_backend=_DeadlineBackend())
        self._environment = urllib.request.getproxies_environment()
        self._proxies = {scheme: _proxy_pool(scheme, url, context, max_keepalive)
                         for scheme, url in self._environment.items() if scheme in ("http", "https", "all")}

    def _pool_for(self, url: str) -> httpcore.ConnectionPool | httpcore.HTTPProxy:
        """The proxy for the URL's scheme, unless the host is this machine or NO_PROXY names it."""
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme) or self._proxies.get("all")
        host = parts.hostname or ""
        if proxy is None or on_this_machine(url) or urllib.request.proxy_bypass_environment(host, self._environment):
            return self._pool
        return proxy

    def request(self, method: str, url: str, *, timeout: float, max_bytes: int = DEFAULT_MAX_BYTES,
                content: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        """The whole answer within `timeout` seconds (connection included), at most `max_bytes` long."""
        if self.stopped.is_set():
            raise Stopped("stopped")
        started = time.monotonic()
        _active.deadline, _active.stop = started + timeout, self.stopped
        limits = {"connect": min(self.connect_timeout, timeout), "read": timeout, "write": timeout, "pool": timeout}
        try:
            with self._pool_for(url).stream(method, url, headers=headers or {}, content=content,
                                   extensions={"timeout": limits}) as response:
                return Answer(response.status, _body(response, max_bytes))
        except _TRANSPORT_ERRORS as exc:
            if self.stopped.is_set():
                raise Stopped("stopped") from None
            if time.monotonic() - started >= timeout:
                raise DeadlineExceeded(f"no complete answer within {timeout:g} s") from None
            raise HttpFailure(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
        finally:
            _active.deadline, _active.stop = None, None

    def stop(self) -> None:
        self.stopped.set()

    def close(self) -> None:
        for pool in (self._pool, *self._proxies.values()):
            pool.close()


def _proxy_pool(scheme: str, url: str, context: ssl.SSLContext, max_keepalive: int) -> httpcore.HTTPProxy:
    """A pool of connections through an HTTP(S) proxy; its user and password (if the URL has them) go in the
    Proxy-Authorization header, and never into a message."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{scheme.upper()}_PROXY is not an http:// or https:// proxy URL: set it to http://HOST:PORT "
                          "(user and password allowed), or unset it")
    auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
    port = f":{parts.port}" if parts.port else ""
    return httpcore.HTTPProxy(proxy_url=f"{parts.scheme}://{parts.hostname}{port}", proxy_auth=auth, ssl_context=context,
                              max_keepalive_connections=max_keepalive, network_backend=_DeadlineBackend())


def on_this_machine(url: str) -> bool:
    """A node on this machine (localhost, a loopback address) is never reached through a proxy."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _body(response: httpcore.Response, max_bytes: int) -> bytes:
    declared = next((value for name, value in response.headers if name.lower() == b"content-length"), None)
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge(f"answer of {int(declared)} bytes is above the {_size(max_bytes)} limit")
    chunks, size = [], 0
    for chunk in response.iter_stream():
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLarge(f"answer above the {_size(max_bytes)} limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _size(count: int) -> str:
    return f"{count / MiB:g} MiB" if count >= MiB else f"{count} bytes"
