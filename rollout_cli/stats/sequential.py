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
# Minimum information for a skewed mean (Cochran 1977, Sampling Techniques, section 2.15): the
# normal approximation of a mean is trusted only from n > 25 G1^2 units, G1 the skewness of one
# unit's value. Kohavi et al.'s stricter 355 G1^2 (2014, rule 7) was measured needlessly slow.
SKEWNESS_RULE = 25.0


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

    `trials_per_unit` > 0 marks a metric of counts — a share of trials in [0, 1] — and says how
    many trials a unit has on average (1 for a per-unit 0/1 metric). Absolute guards then use
    the variance a rate would have *at the value tested* (a score-type interval, as Wilson's),
    which stays honest with few events where the plug-in variance does not.
    """

    n: int
    mean: float
    variance: float
    variance_floor: float = 0.0
    trials_per_unit: float = 0.0
    skewness: float = 0.0  # of one unit's value, when known (means with Σx³); sets `needed_units`

    @property
    def needed_units(self) -> int:
        """The fewest units at which this arm's mean may be judged (minimum-information rule)."""
        return math.ceil(SKEWNESS_RULE * self.skewness * self.skewness) if math.isfinite(self.skewness) else 0

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


def _one_event_floor(trials: float) -> float:
    """The Bernoulli variance of one event in `trials` + 1: below the sample variance of any
    count that is neither 0 nor all, so the floor acts only when there was no variation."""
    p = 1.0 / (trials + 1.0)
    return p * (1.0 - p)


def proportion_stats(n: int, events: float) -> ArmStats:
    """A per-unit 0/1 metric (did the unit convert?) from the unit count and the event count."""
    if n <= 1:
        return ArmStats(n=max(n, 0), mean=events / n if n == 1 else math.nan, variance=math.nan)
    mean = events / n
    variance = max(mean * (1.0 - mean) * n / (n - 1), 0.0)
    return ArmStats(n=n, mean=mean, variance=variance, variance_floor=_one_event_floor(n), trials_per_unit=1.0)


def mean_stats(n: int, total: float, total_sq: float, total_cube: float | None = None) -> ArmStats:
    """A per-unit numeric metric (revenue per unit) from n, sum and sum of squares, and the sum of
    cubes when known: its skewness sets the minimum-information rule (`ArmStats.needed_units`)."""
    if n <= 1:
        return ArmStats(n=max(n, 0), mean=total / n if n == 1 else math.nan, variance=math.nan)
    mean = total / n
    variance = max((total_sq - total * total / n) / (n - 1), 0.0)
    skewness = 0.0
    if total_cube is not None and variance > 0:
        m2 = total_sq / n - mean * mean
        m3 = total_cube / n - 3.0 * mean * total_sq / n + 2.0 * mean ** 3
        skewness = m3 / m2 ** 1.5 if m2 > 0 else 0.0
    # The floor is the variance the sample would have if one unit in n + 1 had been 0: values that
    # did not vary at all are not taken as certainty, yet a clear change in them can be judged.
    return ArmStats(n=n, mean=mean, variance=variance, variance_floor=mean * mean * _one_event_floor(n),
                    skewness=skewness)


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
    if not counts:
        return ArmStats(n=n, mean=ratio, variance=variance)
    return ArmStats(n=n, mean=ratio, variance=variance, variance_floor=_one_event_floor(sum_y) / mean_y,
                    trials_per_unit=mean_y)


def tuning_units(stage_min_units: int, candidate_percent: float = 100.0) -> float:
    """The tuning sample size n* of the confidence sequences of a stage.

    The sequence is tightest at n* and only slowly wider away from it, so n* should be about the
    sample size at which the stage is expected to be decided: the stage's `min_units` when the
    plan sets one (the stage cannot pass before it), else DEFAULT_TUNING_UNITS (5000). Validity
    does not depend on this choice; only width does.

    `min_units` counts candidate units, which is the sample size of an absolute guard; a
    relative guard's sequence counts both arms, so pass the stage's candidate share: at a 1%
    canary, 2,000 candidate units come with about 200,000 units in all.
    """
    if stage_min_units <= 0:
        return DEFAULT_TUNING_UNITS
    return float(stage_min_units) * 100.0 / candidate_percent if 0 < candidate_percent < 100 else float(stage_min_units)


def rho_squared(alpha: float, tuning_n: float) -> float:
    """The mixture parameter that makes the (1 - alpha) sequence tightest at n = tuning_n."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not tuning_n > 0:
        raise ValueError(f"the tuning sample size must be positive, got {tuning_n}")
    two_log = -2.0 * math.log(alpha)
    return (two_log + math.log(two_log + 1.0)) / tuning_n


@dataclass(frozen=True)
class Mixture:
    """A weighted average of test martingales, one per component (`weights` summing to 1).

    A component is a normal mixture over the drift (`rho2s[i]` > 0, the mixing variance, centred on
    no effect) or a point alternative (`rho2s[i]` = 0 and `centres[i]` = m > 0: the likelihood ratio
    of drifts ±m against none, averaged over the two signs — Wald's sequential probability ratio,
    the test martingale most powerful at that drift). `centres` empty: every component is normal.
    Each component is a nonnegative martingale of mean 1 under the null, so their average is one too
    and Ville's inequality still bounds the chance of ever crossing its boundary by alpha
    (docs/statistics.md, section 2, "Tuned at the limit"), at the price of log(1 / weight) on the
    boundary.
    """

    rho2s: tuple[float, ...]
    weights: tuple[float, ...] = (1.0,)
    centres: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if any((r > 0) == (m > 0) for r, m in self.components()):
            raise ValueError("each component is a normal mixture (rho2 > 0) or a point alternative (centre > 0)")

    def components(self) -> list[tuple[float, float]]:
        """(rho2, centre) of every component."""
        return list(zip(self.rho2s, self.centres or (0.0,) * len(self.rho2s)))

    def _term(self, r: float, m: float, s2: float, n: float) -> float:
        if m == 0.0:
            return -0.5 * math.log1p(n * r) + r * s2 / (2.0 * (1.0 + n * r))
        x = m * math.sqrt(s2)  # log cosh(x) - m^2 n / 2: the likelihood ratio averaged over +-m
        return x + math.log1p(math.exp(-2.0 * x)) - math.log(2.0) - 0.5 * m * m * n

    def log_m(self, s2: float, n: float) -> float:
        """log of the mixture martingale at a standardised sum S (s2 = S^2 = d^2 n^2 / sigma^2)."""
        terms = [math.log(w) + self._term(r, m, s2, n) for (r, m), w in zip(self.components(), self.weights) if w > 0]
        top = max(terms)
        return top + math.log(sum(math.exp(t - top) for t in terms))

    def single_s2(self, r: float, m: float, n: float, goal: float) -> float:
        """S^2 at which one component alone reaches exp(goal) (closed forms)."""
        if m == 0.0:
            return 2.0 * (1.0 + n * r) / r * (goal + 0.5 * math.log1p(n * r))
        y = goal + 0.5 * m * m * n  # log cosh(m S) = y; cosh >= 1, so no S is needed when y <= 0
        if y <= 0.0:
            return 0.0
        return ((y + math.log1p(math.sqrt(-math.expm1(-2.0 * y)))) / m) ** 2  # acosh(e^y) / m, squared

    def boundary_s2(self, n: float, level: float) -> float:
        """S^2 at which the mixture martingale reaches 1 / level (closed form for one component)."""
        target = -math.log(level)
        parts = [(r, m, w) for (r, m), w in zip(self.components(), self.weights) if w > 0]
        if len(parts) == 1:
            return self.single_s2(parts[0][0], parts[0][1], n, target)
        low = min(self.single_s2(r, m, n, target) for r, m, _ in parts)  # the average is below the largest term
        high = min(self.single_s2(r, m, n, target - math.log(w)) for r, m, w in parts)
        if high <= low or self.log_m(high, n) <= target:  # the latter: that component alone, up to rounding
            return high
        # Bisection, as spending._boundary does for many times at once: log_m grows with S^2, so the root
        # in [low, high] is unique, and the upper end returned never lies inside the boundary. ~40 halvings
        # cost ~0.1 ms; scipy's brentq would cost importing scipy.optimize (~0.5 s) in every evaluation.
        while high - low > 1e-12 * high:
            mid = 0.5 * (low + high)
            if not low < mid < high:
                break
            if self.log_m(mid, n) >= target:
                high = mid
            else:
                low = mid
        return high


def as_mixture(rho2: float | Mixture) -> Mixture:
    return rho2 if isinstance(rho2, Mixture) else Mixture((rho2,))


def halfwidth(variance: float, n: float, alpha: float, rho2: float | Mixture) -> float:
    """Half-width of the (1 - alpha) sequence for an average of n values of this variance (`rho2`
    one mixture parameter, or a Mixture of several)."""
    if n <= 0:
        return math.inf
    if not isinstance(rho2, Mixture):
        v = n * rho2
        return math.sqrt(variance * 2.0 * (v + 1.0) / (n * n * rho2) * math.log(math.sqrt(v + 1.0) / alpha))
    return math.sqrt(variance * rho2.boundary_s2(n, alpha)) / n


def exclusion_p_value(distance: float, variance: float, n: float, rho2: float | Mixture) -> float:
    """The smallest alpha whose sequence (same rho) excludes a value `distance` from the estimate.

    Inverting `halfwidth` in alpha: alpha = sqrt(n rho^2 + 1) exp(-d^2 n^2 rho^2 / (2 sigma^2 (n rho^2 + 1))).
    It is 1/M_n, the reciprocal of the normal-mixture martingale at that value, hence an
    always-valid p-value: P(it ever falls to alpha or below | that value is true) <= alpha.
    With zero variance any non-zero distance is excluded at every alpha (returns 0). For a
    Mixture, 1 / (the average of the martingales).
    """
    if n <= 0 or not math.isfinite(distance):
        return 1.0
    if variance <= 0:
        return 0.0 if distance != 0 else 1.0
    if isinstance(rho2, Mixture):
        return min(1.0, math.exp(-rho2.log_m(distance * distance * n * n / variance, n)))
    v = n * rho2
    log_p = 0.5 * math.log(v + 1.0) - distance * distance * n * n * rho2 / (2.0 * variance * (v + 1.0))
    return min(1.0, math.exp(log_p))


def mean_sequence(arm: ArmStats, alpha: float, tuning_n: float | Mixture, *, level: float | None = None) -> Interval:
    """Always-valid (1 - alpha) interval for one arm's mean (absolute guards); `tuning_n`: one tuning
    size, or the Mixture of several; `level`: the nominal level of the boundary when alpha is spent
    within a horizon (stats.spending), else alpha."""
    mixture = tuning_n if isinstance(tuning_n, Mixture) else rho_squared(alpha, tuning_n)
    width = halfwidth(arm.effective_variance, arm.n, level or alpha, mixture)
    return Interval(low=arm.mean - width, high=arm.mean + width, estimate=arm.mean)


@dataclass(frozen=True)
class RelativeEstimate:
    """The relative change candidate.mean / baseline.mean - 1, on the scale it is tested on.

    Both means positive (the usual case): the log of the ratio, log(mc) - log(mb), with the
    delta-method variance Var(mc) / mc^2 + Var(mb) / mb^2. The log ratio is far closer to normal
    than the ratio itself when counts are small (a low candidate count shrinks its own variance
    estimate on the ratio scale, which made early false fails several times more frequent than
    alpha in simulation; see docs/statistics.md). Otherwise (a candidate mean of 0 or below) the
    ratio scale: Var(mc) / mb^2 + mc^2 Var(mb) / mb^4.

    `centre` and `variance` are on that scale; `variance` is per unit over `n` = units of both
    arms, the time index of the sequence.
    """

    effect: float
    log_scale: bool
    centre: float
    variance: float
    n: int

    def to_scale(self, relative_change: float) -> float:
        """A relative change (e.g. a limit, -0.02) on the tested scale (-inf for -100% on log)."""
        if not self.log_scale:
            return relative_change
        return math.log1p(relative_change) if relative_change > -1.0 else -math.inf

    def to_effect(self, value: float) -> float:
        """A value on the tested scale back as a relative change."""
        return math.expm1(value) if self.log_scale else value


def arm_variances(baseline: ArmStats, candidate: ArmStats) -> tuple[float, float]:
    """The arms' effective variances; an arm whose values do not vary borrows the other's.

    Without borrowing, a candidate whose 100 units all had zero revenue would get a zero-width
    interval and fail at once; with it, that arm is judged as noisy as the other one is.
    """
    vb, vc = baseline.effective_variance, candidate.effective_variance
    return (vb if vb > 0 else vc), (vc if vc > 0 else vb)


def relative_estimate(baseline: ArmStats, candidate: ArmStats) -> RelativeEstimate:
    """The relative change and its delta-method variance (baseline mean must be positive)."""
    mb, mc = baseline.mean, candidate.mean
    if mb == 0:
        raise ValueError("the baseline mean is zero; a relative change is undefined")
    vb, vc = arm_variances(baseline, candidate)
    var_mb, var_mc = vb / baseline.n, vc / candidate.n
    total = baseline.n + candidate.n
    effect = mc / mb - 1.0
    if mb > 0 and mc > 0:
        variance = (var_mc / (mc * mc) + var_mb / (mb * mb)) * total
        return RelativeEstimate(effect, True, math.log(mc / mb), variance, total)
    variance = (var_mc / (mb * mb) + mc * mc * var_mb / mb ** 4) * total
    return RelativeEstimate(effect, False, effect, variance, total)


def relative_sequence(baseline: ArmStats, candidate: ArmStats, alpha: float, tuning_n: float) -> Interval:
    """Always-valid (1 - alpha) interval for candidate.mean / baseline.mean - 1 (delta method).

    The interval is built on the scale of `relative_estimate` and mapped back, so on the log
    scale it is not symmetric around the estimate. Raises ValueError when the baseline mean is
    zero (a relative change is then undefined); guards check that first and say inconclusive.
    """
    estimate = relative_estimate(baseline, candidate)
    width = halfwidth(estimate.variance, estimate.n, alpha, rho_squared(alpha, tuning_n))
    return Interval(low=estimate.to_effect(estimate.centre - width), high=estimate.to_effect(estimate.centre + width),
                    estimate=estimate.effect)
