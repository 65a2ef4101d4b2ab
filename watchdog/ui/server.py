"""Serve the page in a background thread (beside the daemon, or for `watchdog ui`)."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp

from watchdog.errors import ConfigError


class UiServer:
    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
        self.host, self.port = host, port
        self._thread = threading.Thread(target=self.server.run, name="ui", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "UiServer":
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the page cannot listen on {self.host}:{self.port}: choose another --port")
            time.sleep(0.02)
        if self.port == 0:  # any free port: the one the socket got
            self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
