"""WebSocket subscriptions (eth_subscribe: newHeads, logs, newPendingTransactions) in a background thread.

Subscriptions are a latency optimisation only: the follower and the mempool follower also poll over
HTTP, so a dropped or refused WebSocket costs speed, never data. The connection is re-established with
backoff and every subscription is renewed after a reconnect. Opening, subscribing and every message are bounded
in time and size, so a hostile endpoint costs reconnects, never a stuck thread or the memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from typing import Any, Callable

import websockets

from watchdog.chain.http import DEFAULT_MAX_BYTES, on_this_machine
from watchdog.redaction import redact_text, redact_url

log = logging.getLogger("watchdog.ws")

Callback = Callable[[Any], None]
SUBSCRIBE_SECONDS = 10.0  # opening every subscription of a connection


class Subscriber:
    """One WebSocket connection carrying several subscriptions; callbacks run on its thread.

    A message above `max_message_bytes` closes the connection (it is re-opened); an endpoint that cannot be
    reached is said once per outage, and again when it is back."""

    def __init__(self, url: str, *, name: str = "ws", max_message_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.url = url
        self.name = name
        self.max_message_bytes = max_message_bytes
        self._subs: list[tuple[list[Any], Callback]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self._down_since: float | None = None  # when the current outage started (None: up, or never tried)

    @property
    def label(self) -> str:
        return redact_url(self.url)

    def subscribe(self, kind: str, callback: Callback, params: dict[str, Any] | None = None) -> None:
        """Register before start(): kind is newHeads, logs (params: address/topics) or newPendingTransactions."""
        self._subs.append(([kind, params] if params else [kind], callback))

    def start(self) -> "Subscriber":
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-ws", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                await self._session()
                delay = 0.2
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError, ValueError) as exc:
                self.connected.clear()
                self._down(exc)
            await self._pause(random.uniform(0.5, 1.0) * delay)
            delay = min(delay * 2, 10.0)

    def _down(self, exc: Exception) -> None:
        reason = redact_text(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("%s: websocket %s unavailable (%s): new heads are polled over HTTP meanwhile; reconnecting",
                        self.name, self.label, reason)
        else:
            log.debug("%s: websocket %s still unavailable (%s)", self.name, self.label, reason)

    def _up(self) -> None:
        self.connected.set()
        if self._down_since is not None:
            log.info("%s: websocket %s connected again after %.0f s", self.name, self.label, time.monotonic() - self._down_since)
            self._down_since = None

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up at once when stopped."""
        end = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < end:
            await asyncio.sleep(0.1)

    async def _session(self) -> None:
        async with websockets.connect(self.url, open_timeout=5, close_timeout=1, ping_interval=20,
                                      max_size=self.max_message_bytes, proxy=None if on_this_machine(self.url) else True) as conn:
            async with asyncio.timeout(SUBSCRIBE_SECONDS):  # however chatty the endpoint is meanwhile
                callbacks = await self._subscribe_all(conn)
            self._up()
            while not self._stop.is_set():
                try:
                    raw = await asyncio.wait_for(conn.recv(), timeout=0.5)
                except asyncio.TimeoutError:
                    continue
                message = json.loads(raw)
                params = message.get("params") if isinstance(message, dict) else None
                callback = callbacks.get(params.get("subscription")) if isinstance(params, dict) else None
                if callback is not None:
                    try:
                        callback(params.get("result"))
                    except Exception:  # a faulty consumer must not close the connection
                        log.exception("websocket callback failed")

    async def _subscribe_all(self, conn: Any) -> dict[str, Callback]:
        """Every subscription, by the id the node gave it."""
        callbacks: dict[str, Callback] = {}
        for request_id, (params, callback) in enumerate(self._subs, start=1):
            await conn.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "eth_subscribe", "params": params}))
            while True:
                answer = json.loads(await conn.recv())
                if isinstance(answer, dict) and answer.get("id") == request_id:
                    break
            if "error" in answer or not isinstance(answer.get("result"), str):
                raise ValueError(f"eth_subscribe {params[0]} refused: {answer.get('error', answer.get('result'))}")
            callbacks[answer["result"]] = callback
        return callbacks
