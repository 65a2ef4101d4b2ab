"""Suggested `pause` sections: what the recognised interfaces say about how a contract can be paused."""

from __future__ import annotations

from typing import Any

from watchdog.chain.abi import selector
from watchdog.manifests.roles import Guess

ZERO32 = "0x" + "00" * 32
# Pause functions of real protocols whose post-condition lives elsewhere: named, never guessed into a manifest.
KNOWN_PAUSE_CALLS = {
    "setPoolPause(bool)": "Aave V3 configurator, every reserve",
    "setReservePause(address,bool)": "Aave V3 configurator, one reserve",
    "_setMintPaused(address,bool)": "Compound V2 comptroller, minting of one market",
    "_setBorrowPaused(address,bool)": "Compound V2 comptroller, borrowing of one market",
    "_setTransferPaused(bool)": "Compound V2 comptroller, transfers",
    "suspendSystem(uint256)": "Synthetix SystemStatus",
}


def suggest_pause(guess: Guess, selectors: set[str], guardian: str | None = None) -> tuple[dict[str, Any] | None, list[str]]:
    """(the suggested `pause` section or None, reasons to show). A contract the watchdog guardian can pause
    (scoped pauses) goes through `guardian` when one is known; an OpenZeppelin-style Pausable with `pause()`
    pauses itself, checked by `paused()`."""
    notes = []
    if guess.has("guardian target"):
        if guardian:
            return ({"via": "guardian", "guardian": guardian, "scope": "protocol", "scope_id": ZERO32},
                    [f"pause: through the guardian {guardian} (whole contract)"])
        notes.append("scoped pauses by a guardian: add the guardian's address to suggest its pause")
    elif guess.has("Pausable") and selector("pause()") in selectors:
        return ({"via": "self", "call": "pause()", "check": {"call": "paused()(bool)"}}, ["pause: pause(), checked by paused()"])
    for signature, what in KNOWN_PAUSE_CALLS.items():
        if selector(signature) in selectors:
            notes.append(f"pause call {signature} ({what}): write its `pause` by hand, with the view that shows it worked")
    return None, notes
