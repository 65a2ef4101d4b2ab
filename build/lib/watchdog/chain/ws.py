"""WebSocket subscriptions (eth_subscribe: newHeads, logs, newPendingTransactions) in a background thread.

Subscriptions are a latency optimisation only: the follower and the mempool follower also poll over
HTTP, so a dropped or refused WebSocket costs speed, never data. The connection is re-established with
backoff and every subscription is renewed after a reconnect.
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

log = logging.getLogger("watchdog.ws")

Callback = Callable[[Any], None]


class Subscriber:
    """One WebSocket connection carrying several subscriptions; callbacks run on its thread."""

    def __init__(self, url: str, *, name: str = "ws") -> None:
        self.url = url
        self.name = name
        self._subs: list[tuple[list[Any], Callback]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

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
                log.debug("websocket %s: %s; polling continues, reconnecting", self.url, exc)
            await self._pause(random.uniform(0.5, 1.0) * delay)
            delay = min(delay * 2, 10.0)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up at once when stopped."""
        end = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < end:
            await asyncio.sleep(0.1)

    async def _session(self) -> None:
        async with websockets.connect(self.url, open_timeout=5, close_timeout=1, ping_interval=20, max_size=None) as conn:
            callbacks: dict[str, Callback] = {}
            for request_id, (params, callback) in enumerate(self._subs, start=1):
                await conn.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "eth_subscribe", "params": params}))
                while True:
                    answer = json.loads(await asyncio.wait_for(conn.recv(), timeout=10))
                    if answer.get("id") == request_id:
                        break
                if "error" in answer:
                    raise ValueError(f"eth_subscribe {params[0]} refused: {answer['error']}")
                callbacks[answer["result"]] = callback
            self.connected.set()
            while not self._stop.is_set():
                try:
                    raw = await asyncio.wait_for(conn.recv(), timeout=0.5)
                except asyncio.TimeoutError:
                    continue
                message = json.loads(raw)
                params = message.get("params") or {}
                callback = callbacks.get(params.get("subscription"))
                if callback is not None:
                    try:
                        callback(params.get("result"))
                    except Exception:  # a faulty consumer must not close the connection
                        log.exception("websocket callback failed")
