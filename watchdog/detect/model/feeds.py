"""A push feed's cadence, learned from its own round history: the longest gap between rounds (its heartbeat, with
a margin) and the smallest move that made it publish (its deviation threshold). Until the feed has shown enough
rounds, nothing is claimed and the rules keep their conservative defaults."""

from __future__ import annotations

from watchdog.detect.reads import ROUND, ChainReads

HISTORY = 24          # rounds read back
WARMUP = 8            # gaps needed before a heartbeat is claimed
MARGIN = 1.5          # the heartbeat is the longest gap seen, with this margin
ROUND_AT = "getRoundData(uint80)(uint80,int256,uint256,uint256,uint80)"
PHASE_MASK = (1 << 64) - 1  # a proxy's round id carries its phase above the aggregator's round number


def learn_cadence(reads: ChainReads, feed: str, block: int | str) -> tuple[int | None, float | None]:
    """(heartbeat seconds, deviation) of `feed`, or (None, None) while its history is too short to tell."""
    latest = reads.call(feed, ROUND, (), block)
    if not latest:
        return None, None
    rounds = [latest]
    for back in range(1, HISTORY):
        round_id = latest[0] - back
        if round_id & PHASE_MASK == 0:
            break  # the first round of this aggregator
        earlier = reads.call(feed, ROUND_AT, (round_id,), block)
        if not earlier or not earlier[3]:
            break
        rounds.append(earlier)
    times = sorted(r[3] for r in rounds)
    gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
    if len(gaps) < WARMUP:
        return None, None
    moves = [abs(newer[1] / older[1] - 1) for newer, older in zip(rounds, rounds[1:]) if older[1] > 0 and newer[1] != older[1]]
    return int(max(gaps) * MARGIN), (min(moves) if moves else None)
