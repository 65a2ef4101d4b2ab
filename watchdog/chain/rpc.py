"""JSON-RPC over HTTP: batching, deadlines and size caps, retries with backoff and jitter, failover between endpoints.

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
import json
import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from watchdog.chain.http import DEFAULT_MAX_BYTES, AnswerTooLarge, DeadlineExceeded, HttpClient, HttpFailure, Stopped
from watchdog.errors import RpcError
from watchdog.redaction import redact_text, redact_url

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
        return redact_url(self.url)

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
    """A JSON-RPC client over several HTTP endpoints of one network. Thread-safe.

    Every request ends within `timeout` seconds (connection and whole answer: a node that drips its answer does
    not hold a thread), an answer above `max_answer_bytes` is refused and counts as that endpoint failing, and
    `interrupt()` ends every request in flight at once (a shutdown)."""

    def __init__(
        self,
        urls: list[str] | str,
        *,
        timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
        max_answer_bytes: int = DEFAULT_MAX_BYTES,
        on_request: Callable[[Endpoint, bool, float], None] | None = None,
        on_calls: Callable[[list[Call]], None] | None = None,
    ) -> None:
        urls = [urls] if isinstance(urls, str) else list(urls)
        if not urls:
            raise RpcError("no RPC endpoint given: set at least one URL in `rpc_urls`")
        self.endpoints = [Endpoint(url) for url in urls]
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_answer_bytes = max_answer_bytes
        self.on_request = on_request  # metrics hook: (endpoint, ok, elapsed_ms)
        self.on_calls = on_calls      # metrics hook: the calls of each request (once, whatever the retries)
        self._http = HttpClient(connect_timeout=min(timeout, 3.0))
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
            if not endpoint.healthy or self._http.stopped.is_set():
                continue
            started = time.perf_counter()
            try:
                [answer] = self._post(endpoint, body, [request_id])
                endpoint.head = int(answer["result"], 16)
            except (HttpFailure, _BadAnswer, ValueError, KeyError, TypeError) as exc:
                self._failed(endpoint, started, exc)

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

    def interrupt(self) -> None:
        """End every request in flight now and refuse new ones (RpcUnavailable): the process is stopping."""
        self._http.stop()

    def close(self) -> None:
        self._http.stop()
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
                if self._http.stopped.is_set():
                    raise RpcUnavailable("the RPC client was stopped (shutting down)")
                if at_least is not None and 0 < endpoint.head < at_least:
                    behind += 1  # it has not got that block: asking it would read as a missing block
                    continue
                started = time.perf_counter()
                try:
                    answers = self._post(endpoint, body, ids)
                except (HttpFailure, _BadAnswer, ValueError) as exc:
                    last = self._failed(endpoint, started, exc)
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
                self._http.stopped.wait(random.uniform(0, min(self.max_backoff, self.backoff * 2 ** attempt)))
        raise RpcUnavailable(f"no RPC endpoint answered after {self.retries + 1} attempts; last error: {last}")

    def _failed(self, endpoint: Endpoint, started: float, exc: Exception) -> str:
        """Count a failed request against its endpoint; the error as shown (endpoint redacted)."""
        elapsed = (time.perf_counter() - started) * 1000
        what = str(exc) if isinstance(exc, HttpFailure) else f"{type(exc).__name__}: {exc}"  # HttpFailure names its cause
        error = redact_text(f"{endpoint.label}: {what.replace(endpoint.url, endpoint.label)}")
        if not isinstance(exc, Stopped):
            endpoint.record(False, elapsed, error)
            if self.on_request:
                self.on_request(endpoint, False, elapsed)
        first = endpoint.failures_in_row == 1  # said once per run of failures, not at every retry
        if isinstance(exc, AnswerTooLarge) and first:
            log.warning("rpc %s: %s: refused, the endpoint counts as failing (raise `max_answer_mb` of the network "
                        "if its answers are that large)", endpoint.label, exc)
        elif isinstance(exc, DeadlineExceeded) and first:
            log.warning("rpc %s: %s: the endpoint counts as failing (raise the network's `timeout` if it is "
                        "only slow)", endpoint.label, exc)
        else:
            log.debug("rpc failure %s", error)
        return error

    def _post(self, endpoint: Endpoint, body: Any, ids: list[int]) -> list[dict[str, Any]]:
        response = self._http.request("POST", endpoint.url, timeout=self.timeout, max_bytes=self.max_answer_bytes,
                                      content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        if response.status != 200:
            raise _BadAnswer(f"HTTP {response.status}")
        data = json.loads(response.body)
        answers = data if isinstance(data, list) else [data]
        # Only well-formed answers count: a JSON-RPC answer is an object with an id and a result or an error.
        by_id = {a["id"]: a for a in answers
                 if isinstance(a, dict) and isinstance(a.get("id"), (int, str)) and ("result" in a or "error" in a)}
        try:
            return [by_id[i] for i in ids]
        except KeyError:
            # A single non-batched error (e.g. a batch refused as a whole) carries id null.
            if len(answers) == 1 and isinstance(answers[0], dict) and "error" in answers[0] and len(ids) == 1:
                return answers
            raise _BadAnswer("answer ids do not match the request, or an answer has neither result nor error") from None


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
