"""The shadow comparisons' sequences are tuned at the stage's fixed size (docs/statistics.md, section 13).

Tuned at the window's own units, rho² = c / n makes the boundary a fixed z at every look: a
fixed-sample test repeated, which over a stage's looks excludes the truth far more often than
alpha. Segment against the rest, busiest against quietest minutes and unusual inputs take the
stage's tuning, as the rates do.
"""

from __future__ import annotations

import math

import numpy as np

from rollout_cli.shadow.compare import _busy_vs_quiet, _unusual
from rollout_cli.shadow.figures import difference, segment_rows
from rollout_cli.shadow.scans import GROUPS, RatioSums
from rollout_cli.stats.random_groups import GroupTotals, grouped_difference
from rollout_cli.stats.sequential import ArmStats, halfwidth, proportion_stats, rho_squared

ALPHA = 0.05
TUNING = 2000.0  # tuning_units(min_units=2000)


def _sums(seed: int, share: float, scale: int) -> RatioSums:
    rng = np.random.default_rng(seed)
    y = rng.poisson(20.0, GROUPS).astype(float) * scale
    x = np.round(y * share + rng.normal(0.0, 1.0, GROUPS) * math.sqrt(scale))
    return RatioSums(n=10 * GROUPS * scale, sx=float(x.sum()), sy=float(y.sum()), x=x, y=y)


def _window(scale: int) -> dict:  # type: ignore[type-arg]
    part = _sums(1, 0.90, scale)
    rest = _sums(2, 0.93, scale)
    whole = RatioSums(part.n + rest.n, part.sx + rest.sx, part.sy + rest.sy, part.x + rest.x, part.y + rest.y)
    return {None: {k: whole for k in ("agree", "cover", "late", "cerr")},
            ("country", "DE"): {k: part for k in ("agree", "cover", "late", "cerr")}}


def _z(scale: int) -> float:
    """The segment-vs-rest interval's half-width in standard errors, and check it is the stage's tuning's."""
    sums = _window(scale)
    whole, part = sums[None]["agree"], sums[("country", "DE")]["agree"]
    row = segment_rows(sums, ALPHA, TUNING)[0]
    rest = GroupTotals(x=whole.x - part.x, y=whole.y - part.y, units=whole.n)
    found = grouped_difference(GroupTotals(x=part.x, y=part.y, units=part.n), rest, whole.n)
    assert found is not None and row.interval is not None
    width = (row.interval[1] - row.interval[0]) / 2
    assert math.isclose(width, halfwidth(found[1], whole.n, ALPHA, rho_squared(ALPHA, TUNING)), rel_tol=1e-12)
    return width / math.sqrt(found[1] / whole.n)


def test_segment_against_the_rest_is_tuned_at_the_stages_size_not_the_windows() -> None:
    # a fixed size: the boundary in standard errors widens as the window grows (tuned at the window's
    # own units it stayed the same z at every size — a fixed-sample test repeated at every look)
    small, large = _z(1), _z(100)
    assert large > small * 1.1


def test_busy_against_quiet_and_unusual_inputs_take_the_stages_tuning() -> None:
    buckets = [{"ratio_n": 40_000, "ratio_mean": 0.01, "ratio_var": 0.04},
               {"ratio_n": 30_000, "ratio_mean": 0.03, "ratio_var": 0.05}]
    busy = ArmStats(n=30_000, mean=0.03, variance=0.05)
    quiet = ArmStats(n=40_000, mean=0.01, variance=0.04)
    assert _busy_vs_quiet(buckets, ALPHA, TUNING) == difference(busy, quiet, ALPHA, TUNING, worse_below=False)
    groups = {"flagged_paired": 3000, "flagged_agree": 2600, "rest_paired": 200_000, "rest_agree": 186_000,
              "flagged_requests": 3100}
    unusual = _unusual(groups, [], ALPHA, TUNING)
    expected = difference(proportion_stats(3000, 2600), proportion_stats(200_000, 186_000), ALPHA, TUNING)
    assert unusual.difference == expected
    assert expected.interval is not None
    # p(1 - p) per arm (up to the n / (n - 1) of the effective variance)
    per_unit = (2600 / 3000 * 400 / 3000 / 3000 + 186_000 / 200_000 * 14_000 / 200_000 / 200_000) * 203_000
    assert math.isclose((expected.interval[1] - expected.interval[0]) / 2,
                        halfwidth(per_unit, 203_000, ALPHA, rho_squared(ALPHA, TUNING)), rel_tol=1e-3)
