"""Robust statistics over samples kept in rule state, safe against replays and reorgs.

Each sample remembers the block (number and hash) it came from: seeing the same sample again (a block
processed twice) changes nothing, and a block of another branch first drops what the orphaned blocks added.
Every statistic is computed from the kept samples, so dropping samples undoes them exactly.
"""

from __future__ import annotations

import statistics
from typing import Any

Sample = list[Any]  # [block number, block hash, key, value]


def remember(samples: list[Sample], number: int, block_hash: str, key: str, value: float,
             limit: int) -> tuple[list[Sample], bool]:
    """`samples` with this one added (at most `limit` kept) and whether it was new."""
    kept = [s for s in samples if s[0] < number or (s[0] == number and s[1] == block_hash)]
    if any(s[0] == number and s[2] == key for s in kept):
        return kept, False
    kept.append([number, block_hash, key, value])
    return kept[-limit:], True


def values(samples: list[Sample]) -> list[float]:
    return [s[3] for s in samples]


def ewma(series: list[float], alpha: float) -> tuple[float, float]:
    """Exponentially weighted mean and variance (newest weighs `alpha`)."""
    mean, var = series[0], 0.0
    for x in series[1:]:
        delta = x - mean
        mean += alpha * delta
        var = (1 - alpha) * (var + alpha * delta * delta)
    return mean, var


def robust_score(value: float, series: list[float], alpha: float, min_relative: float) -> float:
    """Distance of `value` from the series' median in robust standard deviations: the larger of 1.4826 x MAD,
    the EWMA standard deviation and `min_relative` x |median| (flat series are not alarming)."""
    median = statistics.median(series)
    mad = statistics.median(abs(x - median) for x in series)
    scale = max(1.4826 * mad, ewma(series, alpha)[1] ** 0.5, abs(median) * min_relative, 1e-12)
    return (value - median) / scale
