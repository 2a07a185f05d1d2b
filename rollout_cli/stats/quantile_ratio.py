"""The relative quantile guard (p99 `max_increase: 10%`): the log ratio of two arms' quantiles with a
cluster-robust standard error per arm, judged like every other relative guard (docs/statistics.md,
section 6, "The relative quantile guard").

Per arm, with n answers, `design` its design effect D (stats.quantile.design_effect: requests
nested in units) and z = WOODRUFF_Z, Woodruff's interval puts the true q-quantile between the
empirical quantiles at the levels

    q -/+ z * sqrt(D q (1 - q) / n)          (`woodruff_levels`)

with probability about 1 - 2 Φ(-z); their distance on the log scale, divided by 2 z, is the standard
error of the log of the arm's quantile (Woodruff 1952; Deng, Knoblich & Lu 2018 for the design
effect). The log ratio log(ξ_c / ξ_b) is asymptotically normal with the sum of the two arms'
squared standard errors (independent arms): it is judged by stats.guards.judge_relative — the same
always-valid normal-mixture sequence with the point alternative of a harm of twice the limit, the
same spending within the stage's horizon and the same tuning, time counted in units of both arms —
so p_fail is the same always-valid p-value Holm takes.

Minimum information: the normal approximation of a tail quantile rests on the answers beyond it,
so each arm needs TAIL_RULE effective answers beyond its quantile (n (1 - q) / D for an upper
quantile) before it is judged; until then the check is inconclusive, never wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from rollout_cli.stats.guards import GuardResult, judge_relative
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.sequential import ArmStats

WOODRUFF_Z = NormalDist().inv_cdf(0.975)  # the usual 95% interval: only its width is used, as an SE
# Effective answers beyond the quantile each arm needs (docs/statistics.md, section 6): measured
# at the limit, 1 to 50 requests per unit, fewer made the first looks' verdicts too frequent.
TAIL_RULE = 50


def tail_answers(n: int, q: float, design: float = 1.0) -> float:
    """The effective answers beyond the q-quantile (on its nearer end) among n with design effect D."""
    return n * min(q, 1.0 - q) / max(design, 1.0)


def woodruff_levels(n: int, q: float, design: float = 1.0) -> tuple[float, float] | None:
    """The levels (low, high) whose empirical quantiles give the arm's standard error, or None when
    the arm has fewer than TAIL_RULE effective answers beyond its quantile (nothing to read yet)."""
    if n < 2 or not 0.0 < q < 1.0 or tail_answers(n, q, design) < TAIL_RULE:
        return None
    spread = WOODRUFF_Z * math.sqrt(max(design, 1.0) * q * (1.0 - q) / n)
    return (max(q - spread, 0.0), min(q + spread, 1.0))


@dataclass(frozen=True)
class QuantileArm:
    """One arm's quantile as the evaluator read it: `units` (the time index of the sequence),
    `answers` behind the quantile, its `estimate`, the empirical quantiles `low`/`high` at
    `woodruff_levels` (None: not read) and the design effect."""

    units: int
    answers: int
    estimate: float | None
    low: float | None
    high: float | None
    design: float = 1.0

    def stats(self) -> ArmStats:
        """As the relative guards take an arm: the quantile as its `mean`, with the variance per unit
        whose standard error is the log-scale Woodruff one (so relative_estimate's log ratio has it)."""
        se_log = (math.log(self.high) - math.log(self.low)) / (2.0 * WOODRUFF_Z)  # type: ignore[arg-type]
        estimate = float(self.estimate)  # type: ignore[arg-type]
        return ArmStats(n=self.units, mean=estimate, variance=self.units * (se_log * estimate) ** 2)


def _problem(arms: tuple[tuple[str, QuantileArm], ...], q: float) -> str | None:
    few = [f"{name} {tail_answers(arm.answers, q, arm.design):.0f}" for name, arm in arms
           if woodruff_levels(arm.answers, q, arm.design) is None]
    if few:
        return (f"too few answers beyond the quantile ({', '.join(few)} effective; need {TAIL_RULE} per arm "
                f"before its normal approximation is trusted)")
    for name, arm in arms:
        values = (arm.estimate, arm.low, arm.high)
        if any(v is None or not math.isfinite(v) for v in values):
            return f"the {name} quantiles are undefined"
        if not all(v > 0 for v in values):  # type: ignore[operator]
            return "the quantiles are not positive, so a relative change is undefined"
    return None


def judge_relative_quantile(baseline: QuantileArm, candidate: QuantileArm, q: float, *, max_drop: float | None,
                            max_increase: float | None, alpha: float, tuning_n: float, min_units: int,
                            horizon_n: float | None = None) -> GuardResult:
    """Judge candidate quantile / baseline quantile - 1 against max_drop and/or max_increase with
    stats.guards.judge_relative (see the module contract); inconclusive below the minimum
    information or when a quantile is missing or not positive."""
    if max_drop is None and max_increase is None:
        raise ValueError("a relative guard needs max_drop or max_increase")
    problem = _problem((("baseline", baseline), ("candidate", candidate)), q)
    if problem:
        effect = None
        if baseline.estimate and candidate.estimate is not None and baseline.estimate > 0:
            effect = candidate.estimate / baseline.estimate - 1.0
        return GuardResult(Outcome.INCONCLUSIVE, None, 1.0, effect, problem)
    return judge_relative(baseline.stats(), candidate.stats(), max_drop=max_drop, max_increase=max_increase,
                          alpha=alpha, tuning_n=tuning_n, min_units=min_units, horizon_n=horizon_n)
