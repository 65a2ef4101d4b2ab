"""What the pipeline drives: a handler (the detection engine) and the sinks fed after each commit."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Protocol

from sqlmodel import Session

from watchdog.chain.events import Block, BlockBundle, ChainReader, PendingTx
from watchdog.finding import Finding
from watchdog.store.models import FindingRecord


class Handler(Protocol):
    """The detection engine as the pipeline sees it (watchdog.detect's Engine satisfies this). A method that
    accepts `session=` writes its own state (rule state) in the unit of work's transaction."""

    def on_block(self, bundle: BlockBundle) -> list[Finding]: ...

    def on_pending(self, pending: PendingTx, reader: ChainReader) -> list[Finding]: ...

    def on_schedule(self, reader: ChainReader) -> list[Finding]: ...

    def watched_topics(self) -> set[str]:
        """topic0 values wanted from ANY emitter (e.g. flash-loan events of lenders not in the manifest)."""
        ...


def followed(handler: Any) -> set[str]:
    """Accounts the handler wants every transaction of, sent or received (an attacker cluster); none when the
    handler does not say."""
    method = getattr(handler, "followed", None)
    return {a.lower() for a in method()} if callable(method) else set()


# A sink receives, right after the store transaction that holds them has committed, the findings that
# are new (or re-activated after a reorg) and those retracted because their block was reorged out.
# Sinks run on the listener's thread: they must be quick (hand work to a queue) and may raise — an
# exception is logged and never stops the listener. Delivery is at most once per process; a consumer that
# must not miss anything across a crash reconciles from the store on start (findings with no incident).
Sink = Callable[[list[FindingRecord], list[FindingRecord]], None]


@functools.cache
def _takes_session(function: Callable[..., Any]) -> bool:
    try:
        return "session" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def call_handler(method: Callable[..., list[Finding]], session: Session, *args: Any) -> list[Finding]:
    """Call a handler entry point, with the unit of work's session when it accepts one."""
    function = getattr(method, "__func__", method)
    if _takes_session(function):
        return list(method(*args, session=session))
    return list(method(*args))


def stamped(findings: list[Finding], block: Block) -> list[Finding]:
    """The findings of `block` with its timestamp (their place on the chain's clock)."""
    for finding in findings:
        if finding.block_time is None and finding.block_number == block.number:
            finding.block_time = block.timestamp
    return findings
