"""Relative limits on rates with few events: a score test of the rate ratio (Farrington & Manning 1990).

The log-ratio delta method of `guards.judge_relative` judges the ratio with variances measured
at the estimates. With few events those estimates are themselves noisy in the dangerous way: a
candidate that happens to have no errors "measures" a variance of zero, and 0 errors in 1,000
units against 3 in 1,000 passed a `max_increase: 10%`; a baseline without errors makes the ratio
undefined, so 400 candidate errors could never fail. The score test judges each limit R (the
ratio candidate / baseline the guard allows) with the variances the rates *would have if the
ratio were exactly R*:

    U = p̂c − R p̂b,   Var₀(U) = Vc(p̃c) / nc + R² Vb(p̃b) / nb,   p̃c = R p̃b,

where (p̃b, p̃c) is the maximum-likelihood pair under that constraint (a quadratic; Farrington &
Manning 1990, Miettinen & Nurminen 1985) and V(θ) = θ(1 − θ) D is the per-unit variance at θ
with the arm's design factor D (`rates.design_factor`: 1 for a per-unit 0/1 metric, larger when
a unit's trials are correlated). The MLE is computed on effective trials n / D, so correlated
trials count for less. U / sqrt(Var₀) is then fed to the same always-valid normal-mixture
boundary as every other check (`sequential.exclusion_p_value`), so the p-values, the verdicts
and Holm work as for the other guards. The reported interval is the set of ratios the test does
not reject at alpha, found by Brent's method (scipy, imported when first needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rollout_cli.stats.rates import design_factor
from rollout_cli.stats.sequential import ArmStats, Interval, Mixture, exclusion_p_value, halfwidth


@dataclass(frozen=True)
class _RatioTest:
    """The two arms as the score test sees them: effective trials n / D and events on them."""

    base: ArmStats
    cand: ArmStats
    d0: float
    d1: float

    @classmethod
    def of(cls, base: ArmStats, cand: ArmStats) -> _RatioTest:
        return cls(base, cand, design_factor(base), design_factor(cand))

    def restricted_baseline(self, ratio: float) -> float:
        """The baseline rate maximising the binomial likelihood under candidate = ratio × baseline."""
        n0, n1 = self.base.n / self.d0, self.cand.n / self.d1
        x0, x1 = self.base.mean * n0, self.cand.mean * n1
        a = ratio * (n0 + n1)
        b = -(n1 * ratio + x1 + n0 + x0 * ratio)
        c = x0 + x1
        if c <= 0:
            return 0.0
        root = math.sqrt(max(b * b - 4.0 * a * c, 0.0))
        return min(max((-b - root) / (2.0 * a), 0.0), 1.0 / max(ratio, 1.0))

    def statistic(self, ratio: float) -> tuple[float, float]:
        """(U, n · Var₀(U)) for the hypothesis candidate / baseline = ratio; n = units of both arms."""
        pb = self.restricted_baseline(ratio)
        pc = min(ratio * pb, 1.0)
        variance = pc * (1.0 - pc) * self.d1 / self.cand.n + ratio * ratio * pb * (1.0 - pb) * self.d0 / self.base.n
        return self.cand.mean - ratio * self.base.mean, variance * (self.base.n + self.cand.n)

    def p_value(self, ratio: float, rho2: float | Mixture, side: int) -> float:
        """Always-valid p-value against "the true ratio is `ratio`", counting only evidence that the
        truth lies on `side` of it (+1: above, -1: below); 1 when the estimate is on the other side."""
        u, variance = self.statistic(ratio)
        if u * side <= 0:
            return 1.0
        return exclusion_p_value(abs(u), variance, self.base.n + self.cand.n, rho2)

    def boundary(self, alpha: float, rho2: float | Mixture, side: int) -> float:
        """The ratio beyond which (on `side` of the estimate) the test rejects at alpha."""
        base, cand = self.base, self.cand
        estimate = cand.mean / base.mean if base.mean > 0 else math.inf
        if side > 0 and math.isinf(estimate):
            return math.inf
        if side < 0 and estimate <= 0:
            return 0.0
        quick = self._fixed_point(alpha, rho2, side, estimate)
        return quick if quick is not None else self._bracketed(alpha, rho2, side, estimate)

    def _fixed_point(self, alpha: float, rho2: float | Mixture, side: int, estimate: float) -> float | None:
        """The end of the interval by iterating: with the restricted variances held at the last
        guess, U(R)^2 = z^2 Var0(R) is a quadratic in R. Converges in a few steps in practice;
        None (use the bracketing search) when it does not."""
        n = self.base.n + self.cand.n
        z2 = halfwidth(1.0, n, alpha, rho2) ** 2  # the boundary's (U / sd)^2 per unit
        pb_hat, pc_hat = self.base.mean, self.cand.mean
        ratio = estimate if math.isfinite(estimate) and estimate > 0 else 1.0
        for _ in range(25):
            pb = self.restricted_baseline(ratio)
            pc = min(ratio * pb, 1.0)
            a_var = pc * (1.0 - pc) * self.d1 / self.cand.n * n
            b_var = pb * (1.0 - pb) * self.d0 / self.base.n * n
            qa, qb, qc = pb_hat * pb_hat - z2 * b_var, -2.0 * pc_hat * pb_hat, pc_hat * pc_hat - z2 * a_var
            disc = qb * qb - 4.0 * qa * qc
            if qa <= 0 or disc < 0:
                return None
            root = (-qb + side * math.sqrt(disc)) / (2.0 * qa)
            if root <= 0:
                return None
            if abs(math.log(root / ratio)) < 1e-10:
                return root
            ratio = root
        return None

    def _bracketed(self, alpha: float, rho2: float | Mixture, side: int, estimate: float) -> float:
        from scipy.optimize import brentq

        def margin(log_ratio: float) -> float:  # > 0 when that ratio is rejected (evidence away from it)
            return math.log(alpha) - math.log(max(self.p_value(math.exp(log_ratio), rho2, -side), 1e-300))

        inner = math.log(estimate) if math.isfinite(estimate) and estimate > 0 else (-30.0 if side > 0 else 30.0)
        step = 1.0
        outer = inner + step * side
        while margin(outer) < 0:  # widen the bracket until the far end is rejected
            inner, step = outer, step * 4.0
            outer = inner + step * side
            if step > 100.0:
                return math.inf if side > 0 else 0.0
        if margin(inner) >= 0:
            return math.exp(inner)
        return math.exp(brentq(margin, inner, outer, xtol=1e-9))


def rate_ratio_interval(base: ArmStats, cand: ArmStats, rho2: float | Mixture, *, level: float) -> Interval:
    """The always-valid interval of the relative change candidate / baseline − 1 at the nominal
    `level` (sequential.mean_sequence) of the sequence `rho2` (one mixture parameter or a Mixture)."""
    test = _RatioTest.of(base, cand)
    effect = cand.mean / base.mean - 1.0 if base.mean > 0 else math.inf
    return Interval(low=test.boundary(level, rho2, -1) - 1.0, high=test.boundary(level, rho2, +1) - 1.0,
                    estimate=effect)


def rate_ratio_p_values(base: ArmStats, cand: ArmStats, rho2: float | Mixture,
                        max_drop: float | None, max_increase: float | None) -> tuple[float, float]:
    """(p_fail, p_pass) of the limits: harm below 1 − max_drop and/or above 1 + max_increase."""
    test = _RatioTest.of(base, cand)
    p_fail, p_pass = 1.0, 0.0
    if max_drop is not None:
        low = 1.0 - max_drop
        p_fail = min(p_fail, test.p_value(low, rho2, -1))
        p_pass = max(p_pass, test.p_value(low, rho2, +1))
    if max_increase is not None:
        high = 1.0 + max_increase
        p_fail = min(p_fail, test.p_value(high, rho2, +1))
        p_pass = max(p_pass, test.p_value(high, rho2, -1))
    return p_fail, p_pass
