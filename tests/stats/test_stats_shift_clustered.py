"""The shift decision when a window's rows cluster in units (a user's requests), by fixed-seed simulation.

Each window is built unit by unit and its units hashed into random groups as the drift scan does
(`drift.queries.GROUPS`); the design effect from the groups must keep "drifted" at a true PSI equal
to the threshold within alpha / 2 (docs/statistics.md, "Drift", clustered requests).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_stats_shift import BINS, UNIFORM, tilted  # the same tilted shares as the independent-row tests

from rollout_cli.drift.queries import GROUPS
from rollout_cli.stats.shift import GroupCross, ShiftDecision, design_effect, judge_shift

THRESHOLD = 0.1
HALF_ALPHA = 0.025


def clustered_window(rng: np.random.Generator, units: int, per_unit: int, p: np.ndarray,
                     own: float) -> tuple[list[int], GroupCross]:
    """`units` units of `per_unit` rows: each row at the unit's own bin with probability `own`, else a fresh
    draw (own = 1: a per-unit feature). The window's counts and its units' random groups."""
    mine = rng.choice(BINS, size=units, p=p)
    fresh = rng.choice(BINS, size=(units, per_unit), p=p)
    rows = np.where(rng.random((units, per_unit)) < own, mine[:, None], fresh)
    per = np.stack([(rows == b).sum(axis=1) for b in range(BINS)], axis=1).astype(float)
    x = np.zeros((GROUPS, BINS))
    np.add.at(x, rng.integers(0, GROUPS, units), per)
    return per.sum(axis=0).astype(int).tolist(), GroupCross(x.T @ x, GROUPS)


def drifted_share(units: int, per_unit: int, own: float, reps: int, seed: int, *, grouped: bool) -> float:
    rng = np.random.default_rng(seed)
    p = tilted(THRESHOLD)
    hits = 0
    for _ in range(reps):
        window, groups = clustered_window(rng, units, per_unit, p, own)
        reference = rng.multinomial(100_000, UNIFORM).tolist()
        result = judge_shift(reference, window, THRESHOLD, 0.95, window_groups=groups if grouped else None)
        hits += result.decision is ShiftDecision.DRIFTED
    return hits / reps


@pytest.mark.parametrize(("units", "per_unit", "own"), [(100, 20, 1.0), (1000, 20, 1.0), (500, 10, 0.5)])
def test_clustered_windows_at_the_threshold_stay_below_half_alpha(units: int, per_unit: int, own: float) -> None:
    reps = 300
    bound = HALF_ALPHA + 3 * math.sqrt(HALF_ALPHA * (1 - HALF_ALPHA) / reps)
    assert drifted_share(units, per_unit, own, reps, seed=units + per_unit, grouped=True) <= bound


def test_counting_clustered_rows_as_independent_alarms_far_too_often() -> None:
    # the defect this guards against: 100 users x 20 rows read as 2,000 independent rows
    assert drifted_share(100, 20, 1.0, 200, seed=3, grouped=False) > 0.3


def test_one_row_per_unit_has_no_design_effect_beyond_noise() -> None:
    rng = np.random.default_rng(4)
    p = tilted(THRESHOLD)
    found = []
    for _ in range(50):
        window, groups = clustered_window(rng, 5000, 1, p, 1.0)
        q = list(UNIFORM)
        shares = [w / sum(window) for w in window]
        gradient = [math.log(a / b) + 1 - b / a for a, b in zip(shares, q)]
        found.append(design_effect(window, groups, gradient, list(range(BINS))))
    assert 1.0 <= min(found) and float(np.mean(found)) < 1.25


def test_a_per_unit_feature_has_the_rows_per_unit_as_design_effect() -> None:
    rng = np.random.default_rng(5)
    window, groups = clustered_window(rng, 20_000, 20, tilted(THRESHOLD), 1.0)
    shares = [w / sum(window) for w in window]
    gradient = [math.log(a / 0.1) + 1 - 0.1 / a for a in shares]
    assert design_effect(window, groups, gradient, list(range(BINS))) == pytest.approx(20, rel=0.3)
