"""Small and odd samples: rare rates, arms without events, arms without variance, heavy tails.

Each test is a case the statistics audit found undecided or wrongly decided
(docs/statistics.md, "Small and odd samples")."""

from __future__ import annotations

import numpy as np

from rollout_cli.stats import judge_relative, mean_stats, proportion_stats, ratio_stats
from rollout_cli.stats.outcome import Outcome

JUDGE = {"alpha": 0.05, "tuning_n": 5000, "min_units": 100}


def test_no_candidate_errors_against_three_baseline_errors_is_not_a_pass() -> None:
    # 0/1000 against 3/1000 at max_increase 10%: far too few events to know the candidate is fine
    result = judge_relative(proportion_stats(1000, 3), proportion_stats(1000, 0), max_drop=None,
                            max_increase=0.10, **JUDGE)
    assert result.outcome is Outcome.INCONCLUSIVE, result.reason


def test_a_baseline_without_errors_does_not_hide_a_candidate_with_many() -> None:
    result = judge_relative(proportion_stats(5000, 0), proportion_stats(5000, 400), max_drop=None,
                            max_increase=0.10, **JUDGE)
    assert result.outcome is Outcome.FAIL, result.reason
    assert result.p_fail < 1e-6


def test_no_events_in_either_arm_decides_nothing() -> None:
    result = judge_relative(proportion_stats(5000, 0), proportion_stats(5000, 0), max_drop=None,
                            max_increase=0.10, **JUDGE)
    assert result.outcome is Outcome.INCONCLUSIVE


def test_a_rate_of_counts_per_request_is_judged_by_the_score_rule_too() -> None:
    # errors per request, 3 requests per unit: 0 of 15,000 against 120 of 15,000
    base = ratio_stats(5000, 120, 15000, 120, 45000, 360, counts=True)
    cand = ratio_stats(5000, 0, 15000, 0, 45000, 0, counts=True)
    assert judge_relative(cand, base, max_drop=None, max_increase=0.10, **JUDGE).outcome is Outcome.FAIL
    assert judge_relative(base, cand, max_drop=None, max_increase=0.10, **JUDGE).outcome is Outcome.PASS


def test_a_drop_in_a_metric_without_variance_is_caught() -> None:
    # every unit spends exactly 10 in the baseline and 9 with the candidate
    base, cand = mean_stats(2000, 20000.0, 200000.0), mean_stats(2000, 18000.0, 162000.0)
    result = judge_relative(base, cand, max_drop=0.03, max_increase=None, **JUDGE)
    assert result.outcome is Outcome.FAIL, result.reason
    same = judge_relative(base, mean_stats(2000, 20000.0, 200000.0), max_drop=0.03, max_increase=None, **JUDGE)
    assert same.outcome is Outcome.PASS, same.reason


def test_rare_rates_at_the_limit_are_wrongly_judged_at_most_alpha() -> None:
    # error rate 0.3%, max_increase 10%, the candidate exactly 10% worse, looks of 100 units per arm
    rng = np.random.default_rng(12)
    runs, looks, step = 250, 200, 100
    base = np.cumsum(rng.binomial(step, 0.003, size=(runs, looks)), axis=1)
    cand = np.cumsum(rng.binomial(step, 0.0033, size=(runs, looks)), axis=1)
    wrong = 0
    for run in range(runs):
        for look in range(looks):
            n = step * (look + 1)
            outcome = judge_relative(proportion_stats(n, int(base[run, look])), proportion_stats(n, int(cand[run, look])),
                                     max_drop=None, max_increase=0.10, **JUDGE).outcome
            if outcome is not Outcome.INCONCLUSIVE:
                wrong += 1
                break
    assert wrong / runs <= 0.05


def _heavy_tailed_sums(rng: np.random.Generator, looks: int, per_look: int, scale: float) -> np.ndarray:
    """Cumulative (Σx, Σx², Σx³) per look of revenue: 95% zeros, else lognormal(0, 2), times `scale`."""
    values = np.where(rng.random((looks, per_look)) < 0.05, rng.lognormal(0.0, 2.0, (looks, per_look)), 0.0) * scale
    return np.cumsum(np.stack([values.sum(1), (values ** 2).sum(1), (values ** 3).sum(1)], axis=1), axis=0)


def test_heavy_tailed_means_at_the_limit_are_wrongly_judged_at_most_alpha() -> None:
    # revenue with 95% zeros and lognormal(0, 2) values, max_drop 3%, the candidate exactly 3% lower,
    # looks of 250 units per arm: without a minimum-information rule 11% of rollouts ended wrongly
    rng = np.random.default_rng(3)
    runs, looks, step = 300, 200, 250
    wrong = 0
    for _ in range(runs):
        base, cand = _heavy_tailed_sums(rng, looks, step, 1.0), _heavy_tailed_sums(rng, looks, step, 0.97)
        for look in range(looks):
            n = step * (look + 1)
            outcome = judge_relative(mean_stats(n, *base[look]), mean_stats(n, *cand[look]), max_drop=0.03,
                                     max_increase=None, **JUDGE).outcome
            if outcome is not Outcome.INCONCLUSIVE:
                wrong += 1
                break
    assert wrong / runs <= 0.05
