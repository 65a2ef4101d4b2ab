"""A block producer for drills: the devnet makes blocks like a live chain instead of one per transaction.

With automine off, transactions wait in the mempool until the next block and are ordered by fee, so an attack
can be seen pending and a pause can overtake it. A block is mined every `interval` seconds, but never before
the watchdog has handled what it has already committed (`ready`), up to `patience` seconds (about one mainnet
block): a loaded machine then delays blocks instead of changing the block counts a drill measures. The delay
still shows in the milliseconds the drill reports.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from watchdog.devnet import Anvil


class BlockClock:
    def __init__(self, anvil: Anvil, interval: float = 1.0, *, ready: Callable[[int], bool] | None = None,
                 on_block: Callable[[int], None] | None = None, patience: float = 12.0) -> None:
        self.anvil = anvil
        self.interval = interval
        self.ready = ready
        self.on_block = on_block
        self.patience = patience
        self.mined: dict[int, float] = {}  # block number -> wall-clock time it was mined
        self.head = anvil.block_number()
        self._stop = threading.Event()
        self._new_block = threading.Condition()
        self.sending = threading.Lock()  # held by a sender from "expect this tx" to "sent"
        self._thread: threading.Thread | None = None

    def start(self) -> "BlockClock":
        self.anvil.set_automine(False)
        self._thread = threading.Thread(target=self._run, name="drill-block-clock", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.patience + 5)
        self.anvil.set_automine(True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            deadline = time.monotonic() + self.patience
            while not self._stop.is_set():
                with self.sending:  # nothing is sent between the readiness check and the block
                    if self.ready is None or time.monotonic() >= deadline or self.ready(self.anvil.block_number()):
                        self.mine()
                        break
                time.sleep(0.01)

    def mine(self) -> int:
        """Mine one block now (also used to let time pass inside a drill)."""
        self.anvil.rpc("evm_mine")
        number = self.anvil.block_number()
        if self.on_block is not None:
            self.on_block(number)
        with self._new_block:
            self.mined.setdefault(number, time.time())
            self.head = number
            self._new_block.notify_all()
        return number

    def wait_block(self, after: int | None = None, timeout: float = 60.0) -> int:
        """Wait until a block above `after` (default: the current head) is mined; its number."""
        with self._new_block:
            floor = self.head if after is None else after
            if not self._new_block.wait_for(lambda: self.head > floor, timeout):
                raise TimeoutError(f"no block after {floor} within {timeout:.0f}s")
            return self.head

    def mined_at(self, number: int) -> float | None:
        return self.mined.get(number)
