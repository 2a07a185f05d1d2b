"""Guard outcomes: directions, inconclusive cases, p_fail and Holm."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_cli.stats import ArmStats, apply_holm, judge_absolute, judge_relative, mean_stats, proportion_stats
from rollout_cli.stats.guards import GuardResult
from rollout_cli.stats.outcome import Outcome

BIG = 2_000_000


def relative(base: ArmStats, cand: ArmStats, **limits: float | None) -> GuardResult:
    kwargs = {"max_drop": None, "max_increase": None, **limits}
    return judge_relative(base, cand, alpha=0.05, tuning_n=5000, min_units=100, **kwargs)


def test_max_drop_fails_on_a_large_drop_and_passes_on_none() -> None:
    base = proportion_stats(BIG, BIG // 10)
    dropped = relative(base, proportion_stats(BIG, int(BIG * 0.09)), max_drop=0.02)
    assert dropped.outcome is Outcome.FAIL
    assert dropped.effect == pytest.approx(-0.1)
    assert dropped.interval is not None and dropped.interval.high < -0.02
    assert dropped.p_fail < 1e-6
    same = relative(base, proportion_stats(BIG, BIG // 10), max_drop=0.02)
    assert same.outcome is Outcome.PASS
    assert same.interval is not None and same.interval.low > -0.02
    assert same.p_fail == 1.0


def test_max_drop_is_not_tripped_by_an_increase_nor_max_increase_by_a_drop() -> None:
    base = proportion_stats(BIG, BIG // 10)
    up = proportion_stats(BIG, int(BIG * 0.12))
    down = proportion_stats(BIG, int(BIG * 0.08))
    assert relative(base, up, max_drop=0.02).outcome is Outcome.PASS
    assert relative(base, up, max_increase=0.10).outcome is Outcome.FAIL
    assert relative(base, down, max_increase=0.10).outcome is Outcome.PASS
    assert relative(base, down, max_drop=0.02).outcome is Outcome.FAIL
    both = relative(base, down, max_drop=0.02, max_increase=0.02)
    assert both.outcome is Outcome.FAIL


def test_the_absolute_guard_directions() -> None:
    errors = proportion_stats(BIG, int(BIG * 0.01))
    judge = {"alpha": 0.05, "tuning_n": 5000, "min_units": 100}
    assert judge_absolute(errors, min=None, max=0.005, **judge).outcome is Outcome.FAIL
    assert judge_absolute(errors, min=None, max=0.02, **judge).outcome is Outcome.PASS
    assert judge_absolute(errors, min=0.02, max=None, **judge).outcome is Outcome.FAIL
    assert judge_absolute(errors, min=0.005, max=None, **judge).outcome is Outcome.PASS
    assert judge_absolute(errors, min=0.005, max=0.02, **judge).outcome is Outcome.PASS


def test_an_effect_near_the_limit_is_inconclusive() -> None:
    base = proportion_stats(5000, 500)
    result = relative(base, proportion_stats(5000, 490), max_drop=0.02)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.reason == "the 95% always-valid interval is not yet wholly on one side of the limit (max drop 2%)"


def test_p_fail_below_alpha_exactly_when_the_interval_is_beyond_the_limit() -> None:
    base = proportion_stats(40_000, 4000)
    for events in range(3500, 4100, 7):
        result = relative(base, proportion_stats(40_000, events), max_drop=0.02)
        assert result.interval is not None
        beyond = result.interval.high < -0.02
        assert (result.p_fail <= 0.05) == beyond
        assert (result.outcome is Outcome.FAIL) == beyond
        assert (result.outcome is Outcome.PASS) == (result.interval.low > -0.02)


def test_too_few_units_is_inconclusive_with_p_fail_one() -> None:
    result = relative(proportion_stats(99, 10), proportion_stats(5000, 0), max_drop=0.02)
    assert result == GuardResult(Outcome.INCONCLUSIVE, None, 1.0, None,
                                 "too few units (baseline 99; need 100 per arm)")
    absolute = judge_absolute(proportion_stats(50, 0), min=None, max=0.01, alpha=0.05, tuning_n=5000, min_units=100)
    assert absolute.outcome is Outcome.INCONCLUSIVE
    assert absolute.reason == "too few units (candidate 50; need 100 per arm)"


def test_a_zero_baseline_is_inconclusive_with_a_clear_reason() -> None:
    # (a rate with a zero baseline is judged by the score test: tests/stats/test_stats_odd_samples.py)
    result = relative(mean_stats(1000, 0.0, 0.0), mean_stats(1000, 50.0, 80.0), max_increase=0.1)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.reason == "the baseline mean is zero, so a relative change is undefined"
    negative = relative(ArmStats(1000, -2.0, 1.0), ArmStats(1000, -2.5, 1.0), max_drop=0.02)
    assert negative.reason == "the baseline mean is negative; relative limits need a positive baseline"


def test_undefined_or_non_varying_statistics_never_pass() -> None:
    nan = ArmStats(1000, math.nan, math.nan)
    fine = proportion_stats(1000, 100)
    for base, cand in ((nan, fine), (fine, nan), (ArmStats(1000, 1.0, math.inf), fine)):
        result = relative(base, cand, max_drop=0.5)
        assert result.outcome is Outcome.INCONCLUSIVE
        assert result.reason.startswith("the ")
    flat = relative(ArmStats(1000, 5.0, 0.0), ArmStats(1000, 5.0, 0.0), max_drop=0.02)
    assert flat.outcome is Outcome.INCONCLUSIVE
    assert flat.reason == "the values do not vary in either arm, so no interval can be formed"
    absolute = judge_absolute(ArmStats(1000, 5.0, 0.0), min=1.0, max=None, alpha=0.05, tuning_n=5000, min_units=100)
    assert absolute.outcome is Outcome.INCONCLUSIVE
    assert absolute.reason == "the candidate's values do not vary, so no interval can be formed"


def test_zero_events_in_a_proportion_is_judged_through_the_floor() -> None:
    few = judge_absolute(proportion_stats(300, 0), min=None, max=0.005, alpha=0.05, tuning_n=5000, min_units=100)
    assert few.outcome is Outcome.INCONCLUSIVE  # 0 of 300 does not show a rate below 0.5%
    many = judge_absolute(proportion_stats(20_000, 0), min=None, max=0.005, alpha=0.05, tuning_n=5000,
                          min_units=100)
    assert many.outcome is Outcome.PASS


def test_a_guard_needs_a_limit() -> None:
    with pytest.raises(ValueError, match="a relative guard needs max_drop or max_increase"):
        relative(proportion_stats(100, 1), proportion_stats(100, 1))
    with pytest.raises(ValueError, match="an absolute guard needs min or max"):
        judge_absolute(proportion_stats(100, 1), min=None, max=None, alpha=0.05, tuning_n=5000, min_units=1)


def test_apply_holm_keeps_strong_fails_and_downgrades_weak_ones() -> None:
    def fail(p: float) -> GuardResult:
        return GuardResult(Outcome.FAIL, None, p, -0.1, "beyond")

    passed = GuardResult(Outcome.PASS, None, 1.0, 0.0, "within", p_pass=0.001)
    results = apply_holm([fail(0.001), fail(0.04), passed, fail(0.02)], 0.05)
    assert [r.outcome for r in results] == [Outcome.FAIL, Outcome.INCONCLUSIVE, Outcome.PASS, Outcome.INCONCLUSIVE]
    assert results[1].reason == ("beyond the limit on its own, but not after Holm's correction across 4 checks "
                                 "(p = 0.04)")
    assert results[2] is passed


@pytest.mark.parametrize("events", [0, 1, 3, 8, 15, 30, 60])
def test_the_score_interval_of_a_rate_agrees_with_p_fail_and_p_pass(events: int) -> None:
    arm = proportion_stats(3000, events)
    for limit in (0.001, 0.003, 0.005, 0.01, 0.02):
        result = judge_absolute(arm, min=None, max=limit, alpha=0.05, tuning_n=5000, min_units=100)
        assert result.interval is not None
        assert (result.outcome is Outcome.FAIL) == (result.interval.low > limit) == (result.p_fail <= 0.05)
        assert (result.outcome is Outcome.PASS) == (result.interval.high < limit) == (result.p_pass <= 0.05)
        assert 0.0 <= result.interval.low <= arm.mean <= result.interval.high <= 1.0


def test_a_plain_mean_uses_the_plug_in_interval() -> None:
    revenue = ArmStats(n=10_000, mean=2.0, variance=9.0)
    for limit in (1.8, 1.9, 1.95, 2.05, 2.2):
        result = judge_absolute(revenue, min=limit, max=None, alpha=0.05, tuning_n=5000, min_units=100)
        assert result.interval is not None
        assert result.interval.high - 2.0 == pytest.approx(2.0 - result.interval.low)
        assert (result.outcome is Outcome.FAIL) == (result.interval.high < limit) == (result.p_fail <= 0.05)
        assert (result.outcome is Outcome.PASS) == (result.interval.low > limit) == (result.p_pass <= 0.05)


finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-10, 10))
arms = st.builds(ArmStats, n=st.integers(0, 10_000), mean=finite_or_not,
                 variance=st.one_of(st.just(0.0), finite_or_not), variance_floor=st.sampled_from([0.0, 1e-4]),
                 trials_per_unit=st.sampled_from([0.0, 1.0, 3.5]))


@given(arms, arms, st.sampled_from([0.02, 0.1]), st.sampled_from([0, 100]))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_nothing_undefined_ever_passes_and_nothing_raises(base: ArmStats, cand: ArmStats, limit: float,
                                                          min_units: int) -> None:
    judge = {"alpha": 0.05, "tuning_n": 5000, "min_units": min_units}
    relative = [judge_relative(base, cand, max_drop=limit, max_increase=None, **judge),
                judge_relative(base, cand, max_drop=None, max_increase=limit, **judge)]
    absolute = [judge_absolute(cand, min=None, max=limit, **judge), judge_absolute(cand, min=limit, max=None, **judge)]

    def defined(*arms: ArmStats) -> bool:
        return all(math.isfinite(x) and arm.n >= max(min_units, 2) for arm in arms for x in (arm.mean, arm.variance))

    # the ends that face a limit: low for max_drop / min, high for max_increase / max (a rate ratio
    # over a baseline without events is unbounded on the other side)
    for results, needed in ((relative, (base, cand)), (absolute, (cand,))):
        for result, end in zip(results, ("low", "high")):
            assert 0.0 <= result.p_fail <= 1.0
            if result.outcome is Outcome.PASS:
                assert defined(*needed)
                assert result.interval is not None
                assert math.isfinite(getattr(result.interval, end))
