"""Always-valid intervals: the asymptotic confidence sequence of Waudby-Smith et al. (2021).

A guard is looked at again and again while a stage runs, so a fixed-horizon interval (valid
only at one pre-chosen sample size) would give false verdicts far more often than the plan's
confidence says. A *confidence sequence* covers the true value at every sample size at once:

    P(the true value lies outside the interval at some look) <= alpha   (asymptotically).

For an average of `n` i.i.d. values with variance sigma^2 the two-sided (1 - alpha) sequence is

    estimate +/- sigma * sqrt( 2 (n rho^2 + 1) / (n^2 rho^2) * log( sqrt(n rho^2 + 1) / alpha ) )

(the normal-mixture boundary, Theorem 2.2 of "Time-uniform central limit theory and asymptotic
confidence sequences"), where rho is a free tuning constant. We choose rho so that the sequence
is tightest at the *tuning sample size* n*:

    rho^2 = ( -2 log(alpha) + log(-2 log(alpha) + 1) ) / n*

For two arms (relative difference of means) the "time" n is the total number of units of both
arms and sigma^2 = n * Var(estimate), the variance of a unit's contribution to the estimate —
the same convention as GrowthBook's and Eppo's sequential engines.

Only the standard library is used here (math, statistics.NormalDist).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Used when a stage does not say how many units it expects (GrowthBook's default too).
DEFAULT_TUNING_UNITS = 5000.0


@dataclass(frozen=True)
class ArmStats:
    """One arm's per-unit mean and the variance of one unit's value.

    For a ratio metric `variance` is the delta-method variance, such that the standard error of
    `mean` is sqrt(variance / n). `variance_floor` is the smallest variance the statistics will
    assume: for counts (0/1 per unit, or a ratio of counts) it is the Bernoulli variance of a
    single event among the trials, so that a sample with no events at all (zero sample
    variance) is not taken as certainty; it never exceeds the sample variance otherwise.
    0 (the default) means "no floor": a check whose values do not vary at all is then
    inconclusive.
    """

    n: int
    mean: float
    variance: float
    variance_floor: float = 0.0

    @property
    def effective_variance(self) -> float:
        """The variance used by the intervals: the sample variance, never below the floor."""
        return max(self.variance, self.variance_floor)

    @property
    def is_finite(self) -> bool:
        return math.isfinite(self.mean) and math.isfinite(self.variance) and math.isfinite(self.variance_floor)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    estimate: float

    def as_tuple(self) -> tuple[float, float]:
        return (self.low, self.high)


def _one_event_floor(trials: float) -> float:
    """The Bernoulli variance of one event in `trials` + 1: below the sample variance of any
    count that is neither 0 nor all, so the floor acts only when there was no variation."""
    p = 1.0 / (trials + 1.0)
    return p * (1.0 - p)


def proportion_stats(n: int, events: float) -> ArmStats:
    """A per-unit 0/1 metric (did the unit convert?) from the unit count and the event count."""
    if n <= 0:
        return ArmStats(n=max(n, 0), mean=math.nan, variance=math.nan)
    mean = events / n
    variance = mean * (1.0 - mean) * n / (n - 1) if n > 1 else math.nan
    return ArmStats(n=n, mean=mean, variance=max(variance, 0.0) if n > 1 else variance,
                    variance_floor=_one_event_floor(n))


def mean_stats(n: int, total: float, total_sq: float) -> ArmStats:
    """A per-unit numeric metric (revenue per unit) from n, sum and sum of squares."""
    if n <= 1:
        return ArmStats(n=max(n, 0), mean=total / n if n == 1 else math.nan, variance=math.nan)
    mean = total / n
    variance = max((total_sq - total * total / n) / (n - 1), 0.0)
    return ArmStats(n=n, mean=mean, variance=variance)


def ratio_stats(n: int, sum_x: float, sum_y: float, sum_xx: float, sum_yy: float, sum_xy: float,
                *, counts: bool = False) -> ArmStats:
    """The ratio sum(x) / sum(y) over units, with its delta-method variance.

    Each unit contributes x (e.g. its requests slower than 250 ms) and y (its requests). The
    ratio R = x̄ / ȳ is not a mean of independent values (a unit's requests are correlated), so
    its variance comes from the delta method over units:

        Var(R) ≈ ( Var(x) - 2 R Cov(x, y) + R^2 Var(y) ) / (n ȳ^2)

    and `variance` is n Var(R). With `counts=True` (x counts events among the y trials of a unit)
    a Bernoulli floor per trial is set (see ArmStats). Σy = 0 or n < 2 gives NaN fields, which
    every guard treats as inconclusive.
    """
    if n <= 1 or sum_y == 0:
        mean = sum_x / sum_y if sum_y else math.nan
        return ArmStats(n=max(n, 0), mean=mean, variance=math.nan)
    ratio = sum_x / sum_y
    mean_y = sum_y / n
    var_x = (sum_xx - sum_x * sum_x / n) / (n - 1)
    var_y = (sum_yy - sum_y * sum_y / n) / (n - 1)
    cov_xy = (sum_xy - sum_x * sum_y / n) / (n - 1)
    variance = max((var_x - 2.0 * ratio * cov_xy + ratio * ratio * var_y) / (mean_y * mean_y), 0.0)
    floor = _one_event_floor(sum_y) / mean_y if counts else 0.0
    return ArmStats(n=n, mean=ratio, variance=variance, variance_floor=floor)


def tuning_units(stage_min_units: int) -> float:
    """The tuning sample size n* of the confidence sequences of a stage.

    The sequence is tightest at n* and only slowly wider away from it, so n* should be about the
    number of units (both arms together) at which the stage is expected to be decided. We take
    the stage's `min_units` when the plan sets one (the stage cannot pass before it), else
    DEFAULT_TUNING_UNITS (5000). Validity does not depend on this choice; only width does.
    """
    return float(stage_min_units) if stage_min_units > 0 else DEFAULT_TUNING_UNITS


def rho_squared(alpha: float, tuning_n: float) -> float:
    """The mixture parameter that makes the (1 - alpha) sequence tightest at n = tuning_n."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not tuning_n > 0:
        raise ValueError(f"the tuning sample size must be positive, got {tuning_n}")
    two_log = -2.0 * math.log(alpha)
    return (two_log + math.log(two_log + 1.0)) / tuning_n


def halfwidth(variance: float, n: float, alpha: float, rho2: float) -> float:
    """Half-width of the (1 - alpha) sequence for an average of n values of this variance."""
    if n <= 0:
        return math.inf
    v = n * rho2
    return math.sqrt(variance * 2.0 * (v + 1.0) / (n * n * rho2) * math.log(math.sqrt(v + 1.0) / alpha))


def exclusion_p_value(distance: float, variance: float, n: float, rho2: float) -> float:
    """The smallest alpha whose sequence (same rho) excludes a value `distance` from the estimate.

    Inverting `halfwidth` in alpha: alpha = sqrt(n rho^2 + 1) exp(-d^2 n^2 rho^2 / (2 sigma^2 (n rho^2 + 1))).
    It is 1/M_n, the reciprocal of the normal-mixture martingale at that value, hence an
    always-valid p-value: P(it ever falls to alpha or below | that value is true) <= alpha.
    With zero variance any non-zero distance is excluded at every alpha (returns 0).
    """
    if n <= 0 or not math.isfinite(distance):
        return 1.0
    if variance <= 0:
        return 0.0 if distance != 0 else 1.0
    v = n * rho2
    log_p = 0.5 * math.log(v + 1.0) - distance * distance * n * n * rho2 / (2.0 * variance * (v + 1.0))
    return min(1.0, math.exp(log_p))


def mean_sequence(arm: ArmStats, alpha: float, tuning_n: float) -> Interval:
    """Always-valid (1 - alpha) interval for one arm's mean (absolute guards)."""
    width = halfwidth(arm.effective_variance, arm.n, alpha, rho_squared(alpha, tuning_n))
    return Interval(low=arm.mean - width, high=arm.mean + width, estimate=arm.mean)


def relative_variance(baseline: ArmStats, candidate: ArmStats) -> float:
    """Delta-method variance of candidate.mean / baseline.mean (per estimate, not per unit).

    Var(mc / mb) ≈ Var(mc) / mb^2 + mc^2 Var(mb) / mb^4, the arms being independent.
    """
    mb, mc = baseline.mean, candidate.mean
    var_mc = candidate.effective_variance / candidate.n
    var_mb = baseline.effective_variance / baseline.n
    return var_mc / (mb * mb) + mc * mc * var_mb / (mb ** 4)


def relative_sequence(baseline: ArmStats, candidate: ArmStats, alpha: float, tuning_n: float) -> Interval:
    """Always-valid (1 - alpha) interval for candidate.mean / baseline.mean - 1 (delta method).

    Raises ValueError when the baseline mean is zero (a relative change is then undefined);
    guards check that first and report it as inconclusive.
    """
    if baseline.mean == 0:
        raise ValueError("the baseline mean is zero; a relative change is undefined")
    total = baseline.n + candidate.n
    effect = candidate.mean / baseline.mean - 1.0
    per_unit_variance = relative_variance(baseline, candidate) * total
    width = halfwidth(per_unit_variance, total, alpha, rho_squared(alpha, tuning_n))
    return Interval(low=effect - width, high=effect + width, estimate=effect)
