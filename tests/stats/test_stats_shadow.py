"""Shadow statistics against scipy, and the agreement guard."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest, chi2

from rollout_cli.stats import agreement_stats, judge_absolute, mcnemar_p_value, wilson_interval
from rollout_cli.stats.outcome import Outcome


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (45, 50), (912, 1000), (99_000, 100_000)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    ours = wilson_interval(k, n, 0.05)
    theirs = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert ours.low == pytest.approx(theirs.low, abs=1e-12)
    assert ours.high == pytest.approx(theirs.high, abs=1e-12)
    assert ours.estimate == k / n


def test_wilson_with_no_requests() -> None:
    interval = wilson_interval(0, 0, 0.05)
    assert (interval.low, interval.high) == (0.0, 1.0)


@pytest.mark.parametrize("b,c", [(0, 0), (0, 5), (3, 9), (12, 12), (10, 14)])
def test_mcnemar_exact_for_small_counts(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_p_value(b, c) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("b,c", [(20, 40), (100, 130), (500, 480)])
def test_mcnemar_chi_square_with_continuity_correction(b: int, c: int) -> None:
    assert mcnemar_p_value(b, c) == pytest.approx(chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1), rel=1e-10)


def test_the_agreement_guard_passes_high_agreement_and_fails_low() -> None:
    # 5,000 units with 4 paired requests each.
    def stats(rate_per_unit: list[int]) -> object:
        agree = sum(rate_per_unit)
        return agreement_stats(len(rate_per_unit), agree, 4 * len(rate_per_unit),
                               sum(a * a for a in rate_per_unit), 16 * len(rate_per_unit), 4 * agree)

    high = stats([4] * 4800 + [3] * 200)  # 99% agreement
    low = stats([3] * 3000 + [4] * 2000)  # 85%
    judge = {"min": 0.9, "max": None, "alpha": 0.05, "tuning_n": 5000, "min_units": 100}
    assert judge_absolute(high, **judge).outcome is Outcome.PASS
    assert judge_absolute(low, **judge).outcome is Outcome.FAIL
