"""Sample-ratio mismatch: GrowthBook's published fixtures, scipy, and the false-alarm rate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2, chisquare

from rollout_cli.stats.srm import SRM_THRESHOLD, chi_square_sf, is_mismatch, srm_p_value


def test_growthbook_fixtures_to_nine_decimals() -> None:
    assert round(srm_p_value([1000, 1200], [0.5, 0.5]), 9) == 0.000020079
    assert round(srm_p_value([135, 115], [0.5, 0.5]), 9) == 0.205903211
    assert is_mismatch(srm_p_value([1000, 1200], [0.5, 0.5]))
    assert not is_mismatch(srm_p_value([135, 115], [0.5, 0.5]))
    assert SRM_THRESHOLD == 0.001


@pytest.mark.parametrize("counts,shares", [
    ([5120, 4880], [50, 50]),
    ([9500, 480], [95, 5]),
    ([10, 0], [0.2, 0.8]),
    ([3, 1_000_000], [0.5, 0.5]),
])
def test_matches_scipy(counts: list[int], shares: list[float]) -> None:
    total = sum(counts)
    expected = [total * s / sum(shares) for s in shares]
    assert srm_p_value(counts, shares) == pytest.approx(chisquare(counts, expected).pvalue, rel=1e-10, abs=1e-300)


def test_the_chi_square_tail_with_one_degree_of_freedom() -> None:
    for x in (0.01, 0.5, 2.0, 9.0, 40.0, 150.0, 400.0, 1400.0):
        assert chi_square_sf(x) == pytest.approx(chi2.sf(x, 1), rel=1e-10, abs=1e-300)
    assert chi_square_sf(0.0) == 1.0 and chi_square_sf(float("inf")) == 0.0


def test_edge_cases() -> None:
    assert srm_p_value([0, 0], [0.5, 0.5]) == 1.0
    assert srm_p_value([100, 0], [1.0, 0.0]) == 1.0  # a shadow stage: nothing served by the candidate
    assert srm_p_value([100, 3], [1.0, 0.0]) == 0.0  # served where none should be
    with pytest.raises(ValueError, match="counts and expected_shares must have the same length"):
        srm_p_value([1, 2], [1.0])
    with pytest.raises(ValueError, match="a split has two arms, got 3"):
        srm_p_value([1, 2, 3], [1.0, 1.0, 1.0])


def test_the_false_alarm_rate_at_the_planned_split() -> None:
    # 20,000 stages split exactly as planned (1% canary and 50/50): flagged about 0.1% of the time.
    rng = np.random.default_rng(11)
    for share in (0.01, 0.5):
        candidate = rng.binomial(50_000, share, size=20_000)
        flagged = sum(is_mismatch(srm_p_value([50_000 - int(c), int(c)], [1 - share, share])) for c in candidate)
        rate = flagged / 20_000
        # 0.1% plus three binomial standard errors over 20,000 (0.00167).
        assert rate <= 0.001 + 3 * (0.001 * 0.999 / 20_000) ** 0.5


def test_a_real_mismatch_is_flagged() -> None:
    rng = np.random.default_rng(12)
    candidate = rng.binomial(20_000, 0.52, size=500)  # planned 50/50, served 52/48
    flagged = sum(is_mismatch(srm_p_value([20_000 - int(c), int(c)], [0.5, 0.5])) for c in candidate)
    assert flagged / 500 > 0.95
