"""Score-type always-valid intervals for rates (shares of trials in [0, 1]).

The plug-in interval `mean ± h * sqrt(variance)` judges a rate with the variance measured at
the estimate. With few events that variance is itself too small exactly when the estimate is
too low (0 errors in 300 requests "measures" a variance of 0), so an error-rate guard at its
limit passed wrongly up to twice as often as alpha in simulation. Wilson's remedy (1927) is
to judge each candidate value θ with the variance a rate *would have at θ*:

    θ is in the interval  <=>  (p̂ - θ)^2 <= h^2 * θ (1 - θ) * D

with h the confidence-sequence factor of `sequential.halfwidth` and D the design factor: the
variance of a unit's rate per unit of Bernoulli variance, at least 1 / (trials per unit) —
larger when a unit's trials are correlated (measured: sample variance / p̂(1 - p̂)).
Solving the quadratic gives the interval in closed form.
"""

from __future__ import annotations

import math

from rollout_cli.stats.sequential import ArmStats, Interval, Mixture, halfwidth, rho_squared


def design_factor(arm: ArmStats) -> float:
    """The variance of a unit's value at rate θ, per unit of θ(1 - θ)."""
    independent = 1.0 / arm.trials_per_unit
    p = arm.mean
    if 0.0 < p < 1.0 and arm.variance > 0:
        return max(independent, arm.variance / (p * (1.0 - p)))
    return independent


def rate_variance_at(arm: ArmStats, theta: float) -> float:
    """The per-unit variance the arm's rate would have if its true value were θ."""
    theta = min(max(theta, 0.0), 1.0)
    return theta * (1.0 - theta) * design_factor(arm)


def rate_sequence(arm: ArmStats, alpha: float, tuning_n: float | Mixture, *, level: float | None = None) -> Interval:
    """Always-valid (1 - alpha) score interval for a rate (arm.trials_per_unit > 0); `tuning_n` and
    `level` as in sequential.mean_sequence."""
    if arm.trials_per_unit <= 0:
        raise ValueError("a score interval needs a metric of counts (trials_per_unit > 0)")
    factor = halfwidth(1.0, arm.n, level or alpha, tuning_n if isinstance(tuning_n, Mixture) else rho_squared(alpha, tuning_n)) ** 2 * design_factor(arm)
    p = min(max(arm.mean, 0.0), 1.0)
    a, b = 1.0 + factor, 2.0 * p + factor
    root = math.sqrt(factor * factor + 4.0 * factor * p * (1.0 - p))
    return Interval(low=max(0.0, (b - root) / (2.0 * a)), high=min(1.0, (b + root) / (2.0 * a)), estimate=arm.mean)
