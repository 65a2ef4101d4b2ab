"""JSON-RPC over httpx: batching, timeouts, retries with backoff and jitter, failover between endpoints.

Every endpoint keeps a health score (an exponentially weighted success rate) and the head it last reported.
A request goes to the healthiest endpoint that is not cooling down after a failure and not lagging behind
the others; a transport failure or a malformed answer moves it to the next one. A request about block N
(`at_least=N`) is only answered by an endpoint that has block N: a node that is behind answers "no such
block" or no logs, which must never read as a reorg or as a quiet chain. An error *answer* from the node
(JSON-RPC `error`) is not a transport failure: it is raised to the caller as `RpcAnswerError`, because
another endpoint would most likely say the same.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx

from watchdog.errors import RpcError

log = logging.getLogger("watchdog.rpc")

Call = tuple[str, list[Any]]
RECOVERY_SECONDS = 60.0
LAG_TOLERANCE = 2  # blocks an endpoint may be behind the best known head before it is demoted


class RpcAnswerError(RpcError):
    """The node answered with a JSON-RPC error object (e.g. a log query it refuses)."""

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        super().__init__(f"{method}: {message} (code {code})")
        self.method = method
        self.code = code
        self.message = message
        self.data = data  # e.g. the revert payload of a failed eth_call


class RpcUnavailable(RpcError):
    """Every endpoint failed for every attempt (down, timing out, or answering garbage)."""


class RpcLagging(RpcUnavailable):
    """No endpoint has reached the block asked about yet: wait for them, it is not a change of the chain."""


class _BadAnswer(Exception):
    """A transport-level answer that is not valid JSON-RPC (garbage, wrong ids, HTTP error)."""


def redact(url: str) -> str:
    """The URL as shown in logs, metrics and /health: hosted endpoints carry API keys in the path,
    the query or the user part, so only scheme, host and port are shown."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    hidden = "/..." if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{hidden}"


@dataclass
class Endpoint:
    url: str
    score: float = 1.0               # EWMA of successes (1) and failures (0)
    cooldown_until: float = 0.0      # monotonic time before which the endpoint is skipped
    failed_at: float = 0.0           # monotonic time of the last failure
    failures_in_row: int = 0
    requests: int = 0
    failures: int = 0
    latency_ms: float = 0.0          # EWMA
    last_error: str = ""
    head: int = 0                    # the latest block it reported (0: not known yet)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def label(self) -> str:
        return redact(self.url)

    def record(self, ok: bool, elapsed_ms: float = 0.0, error: str = "") -> None:
        with self.lock:
            self.requests += 1
            self.score = 0.8 * self.score + 0.2 * (1.0 if ok else 0.0)
            if ok:
                self.failures_in_row = 0
                self.latency_ms = elapsed_ms if self.latency_ms == 0 else 0.8 * self.latency_ms + 0.2 * elapsed_ms
            else:
                self.score = self.health_score()  # fold the recovery so far in before the new failure
                self.failures += 1
                self.failures_in_row += 1
                self.failed_at = time.monotonic()
                self.last_error = error
                # Back off from a failing endpoint for longer the more it fails in a row (max 30 s).
                self.cooldown_until = time.monotonic() + min(30.0, 0.25 * 2 ** min(self.failures_in_row - 1, 7))

    @property
    def healthy(self) -> bool:
        return time.monotonic() >= self.cooldown_until

    def health_score(self) -> float:
        """The score, recovering towards 1 over about a minute without failures (so a primary that was
        flaky gets traffic back once it behaves)."""
        if self.score >= 1.0 or not self.failed_at:
            return self.score
        return 1.0 - (1.0 - self.score) * math.exp(-(time.monotonic() - self.failed_at) / RECOVERY_SECONDS)


class RpcClient:
    """A JSON-RPC client over several HTTP endpoints of one network. Thread-safe."""

    def __init__(
        self,
        urls: list[str] | str,
        *,
        timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
        on_request: Callable[[Endpoint, bool, float], None] | None = None,
        on_calls: Callable[[list[Call]], None] | None = None,
    ) -> None:
        urls = [urls] if isinstance(urls, str) else list(urls)
        if not urls:
            raise RpcError("no RPC endpoint given: set at least one URL in `rpc_urls`")
        self.endpoints = [Endpoint(url) for url in urls]
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.on_request = on_request  # metrics hook: (endpoint, ok, elapsed_ms)
        self.on_calls = on_calls      # metrics hook: the calls of each request (once, whatever the retries)
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
                                  limits=httpx.Limits(max_keepalive_connections=8))
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()

    # --- public API ---
    def call(self, method: str, params: list[Any] | None = None, *, at_least: int | None = None) -> Any:
        """One call; raises RpcAnswerError for an error answer, RpcUnavailable if no endpoint answers."""
        return self.batch([(method, params or [])], at_least=at_least)[0]

    def batch(self, calls: list[Call], *, errors_as_values: bool = False, at_least: int | None = None) -> list[Any]:
        """Several calls in one HTTP request, results in order.

        With `errors_as_values`, an error answer is returned in place as an RpcAnswerError instead of raised.
        With `at_least`, only an endpoint that has reached that block answers (RpcLagging when none has).
        """
        if not calls:
            return []
        with self._id_lock:
            ids = [next(self._ids) for _ in calls]
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls)]
        if self.on_calls:
            self.on_calls(calls)
        answers = self._send(body if len(body) > 1 else body[0], ids, calls, at_least)
        results: list[Any] = []
        for (method, _), answer in zip(calls, answers):
            if "error" in answer:
                err = answer["error"] if isinstance(answer["error"], dict) else {"message": str(answer["error"])}
                exc = RpcAnswerError(method, err.get("code"), str(err.get("message", err)), err.get("data"))
                if not errors_as_values:
                    raise exc
                results.append(exc)
            else:
                results.append(answer.get("result"))
        return results

    def refresh_heads(self) -> None:
        """Ask every endpoint for its head (when there are several): a primary that lags is then demoted
        instead of being believed. One small request per endpoint; a failure counts against its health."""
        if len(self.endpoints) < 2:
            return
        with self._id_lock:
            request_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": request_id, "method": "eth_blockNumber", "params": []}
        for endpoint in self.endpoints:
            if not endpoint.healthy:
                continue
            started = time.perf_counter()
            try:
                [answer] = self._post(endpoint, body, [request_id])
                endpoint.head = int(answer["result"], 16)
            except (httpx.HTTPError, _BadAnswer, ValueError, KeyError, TypeError) as exc:
                endpoint.record(False, (time.perf_counter() - started) * 1000, f"{endpoint.label}: {type(exc).__name__}")

    @property
    def best_head(self) -> int:
        """The highest block any endpoint reported."""
        return max(e.head for e in self.endpoints)

    def lagging(self, endpoint: Endpoint) -> bool:
        return endpoint.head > 0 and self.best_head - endpoint.head > LAG_TOLERANCE

    def health(self) -> list[dict[str, Any]]:
        return [{"url": e.label, "score": round(e.health_score(), 3), "healthy": e.healthy, "requests": e.requests,
                 "failures": e.failures, "latency_ms": round(e.latency_ms, 1), "last_error": e.last_error,
                 "head": e.head, "lagging": self.lagging(e)}
                for e in self.endpoints]

    def close(self) -> None:
        self._http.close()

    # --- internals ---
    def _ranked(self) -> list[Endpoint]:
        """Endpoints to try, best first: not cooling down, not lagging behind the others, then by health score
        (in steps of 0.1), then in the configured order (the first URL is the primary)."""
        order = {id(e): n for n, e in enumerate(self.endpoints)}
        return sorted(self.endpoints, key=lambda e: (not e.healthy, self.lagging(e), -round(e.health_score(), 1), order[id(e)]))

    def _send(self, body: Any, ids: list[int], calls: list[Call], at_least: int | None) -> list[dict[str, Any]]:
        last = ""
        for attempt in range(self.retries + 1):
            behind = 0
            for endpoint in self._ranked():
                if at_least is not None and 0 < endpoint.head < at_least:
                    behind += 1  # it has not got that block: asking it would read as a missing block
                    continue
                started = time.perf_counter()
                try:
                    answers = self._post(endpoint, body, ids)
                except (httpx.HTTPError, _BadAnswer, ValueError) as exc:
                    elapsed = (time.perf_counter() - started) * 1000
                    last = f"{endpoint.label}: {type(exc).__name__}: {str(exc).replace(endpoint.url, endpoint.label)}"
                    endpoint.record(False, elapsed, last)
                    if self.on_request:
                        self.on_request(endpoint, False, elapsed)
                    log.debug("rpc failure %s", last)
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                endpoint.record(True, elapsed)
                if self.on_request:
                    self.on_request(endpoint, True, elapsed)
                reported = _reported_head(calls, answers)
                if reported is not None:
                    endpoint.head = reported
                    if at_least is not None and reported < at_least:
                        behind += 1
                        log.info("rpc %s is at block %d, behind block %d: asking another endpoint", endpoint.label, reported, at_least)
                        continue
                return answers
            if behind and behind == len(self.endpoints):
                raise RpcLagging(f"no RPC endpoint has reached block {at_least} yet (best head {self.best_head})")
            if attempt < self.retries:
                # Exponential backoff with full jitter, so several clients do not retry in lockstep.
                time.sleep(random.uniform(0, min(self.max_backoff, self.backoff * 2 ** attempt)))
        raise RpcUnavailable(f"no RPC endpoint answered after {self.retries + 1} attempts; last error: {last}")

    def _post(self, endpoint: Endpoint, body: Any, ids: list[int]) -> list[dict[str, Any]]:
        response = self._http.post(endpoint.url, json=body)
        if response.status_code != 200:
            raise _BadAnswer(f"HTTP {response.status_code}")
        data = response.json()
        answers = data if isinstance(data, list) else [data]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        try:
            return [by_id[i] for i in ids]
        except KeyError:
            # A single non-batched error (e.g. a batch refused as a whole) carries id null.
            if len(answers) == 1 and isinstance(answers[0], dict) and "error" in answers[0] and len(ids) == 1:
                return answers
            raise _BadAnswer("answer ids do not match the request") from None


def _reported_head(calls: list[Call], answers: list[dict[str, Any]]) -> int | None:
    """The head an answer reveals: eth_blockNumber, or the latest block's header."""
    for (method, params), answer in zip(calls, answers):
        result = answer.get("result")
        try:
            if method == "eth_blockNumber" and isinstance(result, str):
                return int(result, 16)
            if method == "eth_getBlockByNumber" and params and params[0] == "latest" and isinstance(result, dict):
                return int(result["number"], 16)
        except (KeyError, TypeError, ValueError):
            return None  # malformed: the caller's parsing reports it
    return None
