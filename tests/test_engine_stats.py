"""Statistics kept in rule state: replays change nothing, a reorg undoes what orphaned blocks added."""

from __future__ import annotations

import pytest

from watchdog.detect.stats import ewma, remember, robust_score, values


def test_the_same_sample_twice_is_counted_once():
    samples, new = remember([], 10, "0xa", "tx1", 5.0, 100)
    again, new_again = remember(samples, 10, "0xa", "tx1", 5.0, 100)
    assert new and not new_again and values(again) == [5.0]


def test_a_reorg_drops_the_samples_of_orphaned_blocks():
    samples: list = []
    for number, block_hash, value in ((10, "0xa", 1.0), (11, "0xb", 2.0), (12, "0xc", 3.0)):
        samples, _ = remember(samples, number, block_hash, "k", value, 100)
    samples, new = remember(samples, 11, "0xb2", "k", 7.0, 100)  # block 11 of another branch
    assert new and [(s[0], s[1], s[3]) for s in samples] == [(10, "0xa", 1.0), (11, "0xb2", 7.0)]


def test_window_is_bounded():
    samples: list = []
    for n in range(10):
        samples, _ = remember(samples, n, f"0x{n}", "k", float(n), 4)
    assert values(samples) == [6.0, 7.0, 8.0, 9.0]


def test_ewma_follows_the_newest_values():
    mean, var = ewma([10.0] * 20 + [20.0], 0.5)
    assert mean == pytest.approx(15.0) and var > 0


def test_robust_score_is_conservative_after_an_outlier_and_on_flat_series():
    window = [100.0, 102.0, 98.0, 101.0, 99.0, 5_000.0, 100.0, 103.0]
    assert robust_score(150.0, window, 0.1, 0.05) < 3          # a recent outlier widens the band (EWMA spread)
    assert robust_score(150.0, [w for w in window if w < 1000], 0.1, 0.05) > 6
    assert robust_score(100.0 * 50, [100.0] * 30, 0.1, 0.05) > 100
    assert robust_score(104.0, [100.0] * 30, 0.1, 0.05) < 1    # 4 % off a flat series: within the floor
