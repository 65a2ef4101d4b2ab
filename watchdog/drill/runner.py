"""Run one drill: a fresh devnet with the demo world, the real watchdog, benign traffic, the attack, the
measurements and the incident report.

Progress is reported through `emit(kind, data)` so that the command line can show it live:
start, devnet, watchdog, traffic, attack, step_sent, step_mined, finding, pause, settled, report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.drill.clock import BlockClock
from watchdog.drill.measure import Pause, Recording, measure
from watchdog.drill.phase import AttackPhase
from watchdog.drill.report import sections, write_report
from watchdog.drill.watch import Watchdog
from watchdog.errors import WatchdogError
from watchdog.scenarios import Books, Scenario, State, catalogue, play_traffic
from watchdog.store import incidents
from watchdog.store.responder import ActionStatus

Emit = Callable[[str, dict[str, Any]], None]
RUN_FILES = ("watchdog.db", "watchdog.db-wal", "watchdog.db-shm", "watchdog.log", "anvil.log", "report.md", "report.json")


@dataclass
class DrillOptions:
    out_dir: Path
    respond: bool = True
    block_time: float = 1.0  # seconds between blocks during the attack (never ahead of the watchdog, see clock)
    traffic_rounds: int = 2  # rounds of benign background traffic before the attack
    volatile_rounds: int = 6  # rounds of the benign-volatile scenario
    use_cache: bool = True  # load the deployed world from the state cache
    world: str = "demo"  # the test world (watchdog.scenarios.catalogue): demo (1) or harbor (2)


def _quiet(kind: str, data: dict[str, Any]) -> None:
    pass


def drills(world: str = "demo") -> dict[str, Scenario]:
    """The scenarios `watchdog drill` offers on a test world."""
    return catalogue(world).drills()


def scenario(name: str, world: str = "demo") -> Scenario:
    offered = drills(world)
    try:
        return offered[name]
    except KeyError:
        raise WatchdogError(f"no drill named {name!r}: choose one of {', '.join(offered)} (or `all`); "
                            "`watchdog drill --list` describes them") from None


def run_drill(name: str, options: DrillOptions, emit: Emit = _quiet) -> dict[str, Any]:
    """Run the drill `name`; the measurements (see watchdog.drill.measure) plus the report paths."""
    chosen, books = scenario(name, options.world), catalogue(options.world).books
    out = Path(options.out_dir) / chosen.name
    out.mkdir(parents=True, exist_ok=True)
    for leftover in RUN_FILES:  # a drill starts from nothing: no checkpoint, finding or action of an earlier run
        (out / leftover).unlink(missing_ok=True)
    with _logged_to(out / "watchdog.log"), Anvil(log_path=out / "anvil.log") as anvil:
        emit("start", {"scenario": chosen})
        world = catalogue(options.world).load(anvil, out / "world", options.use_cache)
        catalogue(options.world).freshen(world)  # a cached world may be hours old: the keepers publish first
        state = chosen.setup(world)
        emit("devnet", {"url": anvil.url, "block": anvil.block_number(), "world": world})
        watchdog = Watchdog(anvil, world, out, protocol=chosen.world, start_block=anvil.block_number() + 1, mempool=chosen.mempool,
                            respond=options.respond, on_finding=lambda seen: emit("finding", {"finding": seen}))
        try:
            recording = _run(chosen, options, anvil, world, watchdog, state, emit)
        finally:
            watchdog.stop()
        extra = sections(watchdog.store_url, anvil.url, world.manifest, recording)
    result = measure(recording, books.unit, books.decimals)
    paths = write_report(out, chosen, result, watchdog.store_url, recording, extra)
    result["report"] = {"markdown": str(paths[0]), "json": str(paths[1])}
    emit("report", {"result": result, "paths": paths})
    return result


def _run(chosen: Scenario, options: DrillOptions, anvil: Anvil, world: World, watchdog: Watchdog,
         state: State, emit: Emit) -> Recording:
    watchdog.start()
    emit("watchdog", {"mempool": chosen.mempool, "respond": options.respond})
    rounds = options.volatile_rounds if chosen.volatile else options.traffic_rounds
    traffic = play_traffic(catalogue(chosen.world).traffic, world, rounds=rounds, volatile=chosen.volatile)
    emit("traffic", {"txs": {kind: len(hashes) for kind, hashes in traffic.txs.items()}, "block": anvil.block_number()})
    _wait(lambda: watchdog.caught_up(anvil.block_number()), 60)
    at_risk = _funds(world, state, catalogue(chosen.world).books)
    recording = Recording(chosen.name, chosen.benign, options.respond, time.time(), anvil.block_number(),
                          funds_before=at_risk())
    ready = _Ready(watchdog)
    clock = BlockClock(anvil, options.block_time, ready=ready, on_block=ready.mined)
    phase = AttackPhase(world, anvil, clock, emit, watchdog)
    ready.phase = phase
    pauses = _PauseWatch(watchdog, world, emit)
    clock.start()
    pauses.start()
    try:
        emit("attack", {"scenario": chosen, "block": anvil.block_number()})
        chosen.play(phase, state)
        # let the watchdog finish: every block handled, its transactions mined, one more block for good measure
        clock.wait_block()
        _wait(lambda: watchdog.caught_up(clock.head) and not _open_actions(watchdog), 30)
        clock.wait_block()
        _wait(lambda: watchdog.caught_up(clock.head), 30)
        watchdog.settle(30)
    finally:
        pauses.stop()
        clock.stop()
    recording.steps = phase.steps
    recording.findings = watchdog.findings()
    recording.block_times = dict(clock.mined)
    recording.funds_after = at_risk()
    recording.pauses = pauses.mined()
    recording.would_pause = _dry_runs(watchdog)
    emit("settled", {"block": anvil.block_number()})
    return recording


def _funds(world: World, state: State, books: Books) -> Callable[[], int]:
    """What the attack puts at risk, in the quote asset's units: the victims a scenario names (Harbor's plays),
    else the world's protocols."""
    victims = state.get("victims")
    if victims:
        return lambda: sum(world.usd_of(world.addresses.get(v, v)) for v in victims)
    return lambda: books.at_risk(world)


class _Ready:
    """When the next block may come: the watchdog has handled every block and finding so far, judged the attack
    transactions now pending, and run its scheduled checks once on the latest block."""

    def __init__(self, watchdog: Watchdog) -> None:
        self.watchdog = watchdog
        self.phase: AttackPhase | None = None
        self.run = watchdog.next_scheduled_run()

    def mined(self, number: int) -> None:
        self.run = self.watchdog.next_scheduled_run()

    def __call__(self, head: int) -> bool:
        pending = tuple(self.phase.pending) if self.phase else ()
        return self.watchdog.scheduled_done(self.run) and self.watchdog.caught_up(head, pending)


def _open_actions(watchdog: Watchdog) -> bool:
    return any(a.status in ("pending", "sent") for a in watchdog.actions())


def _dry_runs(watchdog: Watchdog) -> list[str]:
    with watchdog.daemon.store.session() as s:
        messages = [e.message for e in incidents.events(s, kind="dry_run")]
    return list(dict.fromkeys(messages))  # each finding at pause level repeats it


class _PauseWatch:
    """Reports the responder's pauses as they are sent and mined (read from the store every 100 ms)."""

    def __init__(self, watchdog: Watchdog, world: World, emit: Emit) -> None:
        self.watchdog, self.world, self.emit = watchdog, world, emit
        self.reported: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-pause-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._poll()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._poll()

    def _poll(self) -> None:
        for action in self.watchdog.actions():
            if action.kind != "pause" or action.id is None or self.reported.get(action.id) == action.status:
                continue
            self.reported[action.id] = action.status
            self.emit("pause", {"action": action})

    def mined(self) -> list[Pause]:
        out = []
        for action in self.watchdog.actions():
            if action.kind == "pause" and action.status == ActionStatus.MINED and action.tx_hash and action.block_number is not None:
                receipt = self.world.w3.eth.get_transaction_receipt(action.tx_hash)
                out.append(Pause(action.contract or action.target, action.tx_hash, action.block_number,
                                 receipt["transactionIndex"], (action.trigger or {}).get("rule_id")))
        return out


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@contextmanager
def _logged_to(path: Path) -> Iterator[None]:
    """The watchdog's own log of the drill goes to a file beside the report (the console shows the drill)."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logger = logging.getLogger("watchdog")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()
