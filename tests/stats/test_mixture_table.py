"""stats/mixture_table.py stores what spending._level computes for the guards' two-component mixtures."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from rollout_cli.stats.guards import absolute_mixture, relative_mixture
from rollout_cli.stats.mixture_table import FIRST_STEP, KINDS, LAST_STEP, MAX_RATIO_STEP, _key, _levels, shape
from rollout_cli.stats.sequential import mean_stats, proportion_stats
from rollout_cli.stats.spending import _level, horizon_level, mixture_key

ALPHA = 1.0 - 0.95  # as the plan's confidence gives it


def test_the_shapes_are_those_the_guards_make() -> None:
    """mixture_key of every guard mixture is one of the table's shapes, float for float."""
    made = set()
    for tuning, horizon in ((1000.0, 40_000.0), (5000.0, 10_000_000.0), (300.0, 2_000.0)):
        made.add(mixture_key(absolute_mixture(ALPHA, tuning, horizon))[1])
    for drop, n in ((0.02, 40_000), (0.10, 5_000), (0.01, 200_000), (0.3, 400)):
        base, cand = proportion_stats(n, n // 20), proportion_stats(n, n // 21)
        made.add(mixture_key(relative_mixture(base, cand, drop, None, ALPHA, 5000.0))[1])
        spread = mean_stats(n, 3.0 * n, 40.0 * n)
        made.add(mixture_key(relative_mixture(spread, spread, drop, None, ALPHA, 5000.0))[1])
    shapes = {shape(kind, k) for kind in KINDS for k in range(MAX_RATIO_STEP + 1)}
    assert made <= shapes
    assert {next(kind for kind in KINDS if any(shape(kind, k) == m for k in range(MAX_RATIO_STEP + 1)))
            for m in made} == set(KINDS)


def test_the_stored_levels_are_the_computed_ones() -> None:
    """A sample of entries recomputed (a change to the computation must regenerate the table): equal,
    not close — the table's tolerance is zero."""
    stored = _levels()
    assert stored, "stats/mixture_levels.json is missing"
    sample = [(alpha, kind, k) for alpha in (ALPHA, 1.0 - 0.99) for kind in KINDS for k in (1, 16)
              if _key(alpha, shape(kind, k)) in stored]
    assert (ALPHA, "relative", 1) in sample and (ALPHA, "relative", 16) in sample  # the benchmark's shapes
    for i, (alpha, kind, k) in enumerate(sample):
        levels = stored[_key(alpha, shape(kind, k))]
        assert len(levels) == LAST_STEP - FIRST_STEP + 1
        step = (60, 84, 108)[i % 3]
        assert levels[step - FIRST_STEP] == _level.__wrapped__(alpha, 10.0 ** (step / 24.0), shape(kind, k))


@pytest.mark.parametrize("horizon", [10 ** 3.52, 10 ** 4.5])
def test_horizon_level_reads_the_table(horizon: float) -> None:
    mixture = shape("relative", 16)
    levels = _levels()[_key(ALPHA, mixture)]
    before = _level.cache_info()
    assert horizon_level(ALPHA, horizon, mixture) == levels[math.ceil(math.log10(horizon) * 24) - FIRST_STEP]
    assert _level.cache_info() == before  # nothing computed


def test_a_tabled_mixture_level_is_never_above_the_level_exact_for_the_horizon() -> None:
    """Keyed on the grid step at or above the horizon: the level falls as the horizon grows."""
    mixture = shape("relative", 16)
    for horizon in (10 ** (30.5 / 24), 10 ** (84.9 / 24)):
        assert horizon_level(ALPHA, horizon, mixture) <= _level.__wrapped__(ALPHA, horizon, mixture)


def test_other_shapes_are_computed() -> None:
    odd = shape("relative", 16)
    before = _level.cache_info()
    level = horizon_level(0.05, 10 ** 3.5, odd)  # 0.05 is not 1 - 0.95 in floating point: not tabled
    assert _level.cache_info().misses == before.misses + 1
    assert level == _level(0.05, 10 ** 3.5, odd)


def test_a_tabled_level_and_its_boundary_import_no_root_finding() -> None:
    """A tabled level is read, not solved, and the two-component boundary at it is bisected
    (sequential.Mixture.boundary_s2): scipy.optimize (~0.5 s of CPU to import) stays unimported."""
    code = ("import sys\n"
            "from rollout_cli.stats.spending import horizon_level\n"
            "from rollout_cli.stats.mixture_table import shape\n"
            "from rollout_cli.stats.sequential import halfwidth\n"
            "mixture = shape('relative', 17)\n"
            "level = horizon_level(1.0 - 0.95, 10 ** 3.5, mixture)\n"
            "width = halfwidth(1.0, 5000.0, level, mixture)\n"
            "print(0.05 < level < 0.06, 0 < width < 1, 'scipy.optimize' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "False"]
