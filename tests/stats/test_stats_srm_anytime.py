"""The always-valid sample-ratio-mismatch test (Lindon & Malek 2022), looked at again and again."""

from __future__ import annotations

import numpy as np
import pytest

from rollout_cli.stats.srm import SRM_THRESHOLD, srm_p_value
from rollout_cli.stats.srm_sequential import anytime_srm_p_value, dirichlet_multinomial_log_bayes_factor


def _smallest_p(p_value, counts: np.ndarray, shares: list[float]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Per run, the smallest p-value over all its looks (an alarm at level a: smallest <= a)."""
    return np.array([min(p_value(list(look), shares) for look in run) for run in counts])


def _looks(rng: np.random.Generator, runs: int, looks: int, per_look: int, shares: list[float]) -> np.ndarray:
    return np.cumsum(rng.multinomial(per_look, shares, size=(runs, looks)), axis=1)


def test_a_correct_split_alarms_at_most_alpha_however_often_it_is_looked_at() -> None:
    # Ville's inequality holds at every level; 1% and 5% make the rates measurable with 400 runs
    rng = np.random.default_rng(4)
    for shares in ([0.5, 0.5], [0.95, 0.05]):
        counts = _looks(rng, 400, 200, 50, shares)
        smallest = _smallest_p(anytime_srm_p_value, counts, shares)
        assert (smallest <= 0.05).mean() <= 0.05
        assert (smallest <= 0.01).mean() <= 0.015
        # the fixed-horizon chi-square re-run at every look alarms far more often than it says
        assert (_smallest_p(srm_p_value, counts, shares) <= 0.05).mean() > 0.2


def test_a_real_mismatch_is_caught() -> None:
    rng = np.random.default_rng(5)
    counts = _looks(rng, 100, 100, 200, [0.53, 0.47])  # 6% of the candidate's units lost
    assert (_smallest_p(anytime_srm_p_value, counts, [0.5, 0.5]) < SRM_THRESHOLD).mean() >= 0.95
    assert anytime_srm_p_value([1000, 1200], [0.5, 0.5]) < 0.05


def test_the_bayes_factor_is_the_dirichlet_multinomial_marginal_over_the_null() -> None:
    from scipy.special import gammaln

    counts, shares, concentration = [30, 12, 8], [0.5, 0.3, 0.2], 100.0
    a = concentration * np.array(shares)
    x = np.array(counts)
    expected = (gammaln(a.sum()) - gammaln(a.sum() + x.sum()) + (gammaln(a + x) - gammaln(a)).sum()
                - (x * np.log(shares)).sum())
    assert dirichlet_multinomial_log_bayes_factor(counts, shares, concentration) == pytest.approx(expected, rel=1e-12)


def test_edge_cases() -> None:
    assert anytime_srm_p_value([0, 0], [0.5, 0.5]) == 1.0
    assert anytime_srm_p_value([0, 10], [1.0, 0.0]) == 0.0
    assert anytime_srm_p_value([10, 0], [1.0, 0.0]) == 1.0
    assert anytime_srm_p_value([5000, 5000], [50, 50]) == 1.0
