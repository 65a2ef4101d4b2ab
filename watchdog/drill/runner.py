"""Run one drill: a fresh devnet with a test world (one anvil per network it runs on), the real watchdog, benign
traffic, the attack, the measurements and the incident report.

Progress is reported through `emit(kind, data)` so that the command line can show it live:
start, devnet, watchdog, traffic, attack, step_sent, step_mined, finding, pause, settled, report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.drill.clock import BlockClock
from watchdog.drill.measure import ChainClock, Pause, Recording, measure
from watchdog.drill.phase import AttackPhase, Chain
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
    chosen, world_catalogue = scenario(name, options.world), catalogue(options.world)
    out = Path(options.out_dir) / chosen.name
    out.mkdir(parents=True, exist_ok=True)
    for leftover in (*RUN_FILES, *(f"anvil-{n}.log" for n in world_catalogue.networks)):
        (out / leftover).unlink(missing_ok=True)  # a drill starts from nothing: no checkpoint, finding or action of an earlier run
    with _logged_to(out / "watchdog.log"), _anvils(world_catalogue.networks, out) as anvils:
        emit("start", {"scenario": chosen})
        world = world_catalogue.load(anvils, out / "world", options.use_cache)
        world_catalogue.freshen(world)  # a cached world may be hours old: the keepers publish first
        state = chosen.setup(world)
        worlds = dict(world_catalogue.per_network(world))
        emit("devnet", {"networks": {n: (a.url, a.block_number(), len(worlds[n].manifest.contracts))
                                     for n, a in anvils.items()}, "world": world})
        watchdog = Watchdog(anvils, worlds, out, protocol=chosen.world, mempool=chosen.mempool, respond=options.respond,
                            start_blocks={n: a.block_number() + 1 for n, a in anvils.items()},
                            on_finding=lambda seen: emit("finding", {"finding": seen}))
        try:
            recording = _run(chosen, options, anvils, world, worlds, watchdog, state, emit)
        finally:
            watchdog.stop()
        extra = sections(watchdog.store_url, {n: a.url for n, a in anvils.items()},
                         {n: w.manifest for n, w in worlds.items()}, recording, watchdog.settings.communications)
    result = measure(recording, world_catalogue.books.unit, world_catalogue.books.decimals)
    paths = write_report(out, chosen, result, watchdog.store_url, recording, extra)
    result["report"] = {"markdown": str(paths[0]), "json": str(paths[1])}
    emit("report", {"result": result, "paths": paths})
    return result


@contextmanager
def _anvils(networks: Mapping[str, int], out: Path) -> Iterator[dict[str, Anvil]]:
    """A fresh anvil per network (its chain id), each logging beside the report."""
    with ExitStack() as stack:
        single = len(networks) == 1
        yield {name: stack.enter_context(Anvil(chain_id=chain_id,
                                               log_path=out / ("anvil.log" if single else f"anvil-{name}.log")))
               for name, chain_id in networks.items()}


def _run(chosen: Scenario, options: DrillOptions, anvils: Mapping[str, Anvil], world: Any, worlds: Mapping[str, World],
         watchdog: Watchdog, state: State, emit: Emit) -> Recording:
    watchdog.start()
    emit("watchdog", {"mempool": chosen.mempool, "respond": options.respond})
    rounds = options.volatile_rounds if chosen.volatile else options.traffic_rounds
    traffic = play_traffic(catalogue(chosen.world).traffic, world, rounds=rounds, volatile=chosen.volatile)
    heads = watchdog.heads()
    emit("traffic", {"txs": {kind: len(hashes) for kind, hashes in traffic.txs.items()}, "block": next(iter(heads.values()))})
    _wait(lambda: watchdog.caught_up(), 60)
    at_risk = _funds(world, state, catalogue(chosen.world).books)
    heads = watchdog.heads()
    recording = Recording(chosen.name, chosen.benign, options.respond, time.time(), next(iter(heads.values())),
                          funds_before=at_risk())
    phase = AttackPhase(world, {}, emit, watchdog)
    for name, anvil in anvils.items():
        ready = _Ready(watchdog, name, phase)
        clock = BlockClock(anvil, options.block_time, ready=ready, on_block=ready.mined)
        phase.chains[name] = Chain(anvil, clock, worlds[name])
    pauses = _PauseWatch(watchdog, worlds, emit)
    clocks = [chain.clock for chain in phase.chains.values()]
    for clock in clocks:
        clock.start()
    pauses.start()
    try:
        emit("attack", {"scenario": chosen, "block": next(iter(heads.values()))})
        chosen.play(phase, state)
        # let the watchdog finish: every block handled, its transactions mined, one more block for good measure
        phase.next_block()
        _wait(lambda: watchdog.caught_up(_heads(phase)) and not _open_actions(watchdog), 30)
        phase.next_block()
        _wait(lambda: watchdog.caught_up(_heads(phase)), 30)
        watchdog.settle(30)
    finally:
        pauses.stop()
        for clock in clocks:
            clock.stop()
    recording.steps = phase.steps
    recording.findings = watchdog.findings()
    recording.chains = {name: ChainClock(heads[name], dict(chain.clock.mined)) for name, chain in phase.chains.items()}
    recording.block_times = dict(clocks[0].mined)
    recording.funds_after = at_risk()
    recording.pauses = pauses.mined()
    recording.would_pause = _dry_runs(watchdog)
    emit("settled", {"block": next(iter(watchdog.heads().values()))})
    return recording


def _heads(phase: AttackPhase) -> dict[str, int]:
    return {name: chain.clock.head for name, chain in phase.chains.items()}


def _funds(world: World, state: State, books: Books) -> Callable[[], int]:
    """What the attack puts at risk, in the quote asset's units: the victims a scenario names (Harbor's plays),
    else the world's protocols."""
    victims = state.get("victims")
    if victims:
        return lambda: sum(world.usd_of(world.addresses.get(v, v)) for v in victims)
    return lambda: books.at_risk(world)


class _Ready:
    """When a network's next block may come: the watchdog has handled every block and finding so far on it, judged
    the attack transactions now pending, and run its scheduled checks once on the latest block."""

    def __init__(self, watchdog: Watchdog, network: str, phase: AttackPhase) -> None:
        self.watchdog, self.network, self.phase = watchdog, network, phase
        self.run = watchdog.next_scheduled_run()

    def mined(self, number: int) -> None:
        self.run = self.watchdog.next_scheduled_run()

    def __call__(self, head: int) -> bool:
        runs = {self.network: self.run[self.network]}
        return (self.watchdog.scheduled_done(runs)
                and self.watchdog.caught_up({self.network: head}, tuple(self.phase.pending)))


def _open_actions(watchdog: Watchdog) -> bool:
    return any(a.status in ("pending", "sent") for a in watchdog.actions())


def _dry_runs(watchdog: Watchdog) -> list[str]:
    with watchdog.daemon.store.session() as s:
        messages = [e.message for e in incidents.events(s, kind="dry_run")]
    return list(dict.fromkeys(messages))  # each finding at pause level repeats it


class _PauseWatch:
    """Reports the responder's pauses as they are sent and mined (read from the store every 100 ms)."""

    def __init__(self, watchdog: Watchdog, worlds: Mapping[str, World], emit: Emit) -> None:
        self.watchdog, self.worlds, self.emit = watchdog, worlds, emit
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
                receipt = self.worlds[action.network].w3.eth.get_transaction_receipt(action.tx_hash)
                out.append(Pause(action.contract or action.target, action.tx_hash, action.block_number,
                                 receipt["transactionIndex"], (action.trigger or {}).get("rule_id"), action.network))
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
