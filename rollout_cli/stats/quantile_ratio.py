"""The relative quantile guard (p99 `max_increase: 10%`): the log ratio of two arms' quantiles with a
cluster-robust standard error per arm, judged like every other relative guard (docs/statistics.md,
section 6, "The relative quantile guard").

Per arm, with n answers, `design` its design effect D (stats.quantile.design_effect: requests
nested in units) and z = WOODRUFF_Z, Woodruff's interval puts the true q-quantile between the
empirical quantiles at the levels

    q -/+ z * sqrt(D q (1 - q) / n)          (`woodruff_levels`)

with probability about 1 - 2 Φ(-z) (Woodruff 1952; Deng, Knoblich & Lu 2018 for the design effect).
The interval is not symmetric around the estimate — in an upper tail the density falls, so the
quantiles above the estimate lie further apart than those below — and each half, on the log scale,
divided by z, is the standard error of the log of the arm's quantile on that side. The log ratio
log(ξ_c / ξ_b) is asymptotically normal with the sum of the two arms' squared standard errors
(independent arms): the average of each arm's halves, except for a pass, where the candidate's
standard error is taken on the side the pass looks to (`passing_side`: its upper half below a
`max_increase`, its lower half above a `-max_drop`, the wider between two limits), never below the
average (`QuantileArm.stats`). The average alone missed a p99's truth above the interval 4.4% of the
time (50 answers beyond it; 2.5% per side is the aim), which a candidate with 5% of the traffic —
carrying the ratio's noise alone — turned into 6–8% wrong verdicts at a max_increase, most of them
passes (docs/statistics.md, section 6, also for why fails keep the average). The ratio is judged by
stats.guards.judge_relative — the same always-valid normal-mixture sequence with the point
alternative of a harm of twice the limit, the same spending within the stage's horizon and the same
tuning, time counted in units of both arms — so p_fail is the same always-valid p-value Holm takes.

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

    def stats(self, side: str | None = None) -> ArmStats:
        """As the relative guards take an arm: the quantile as its `mean`, with the variance per unit
        whose standard error is the log-scale Woodruff one (so relative_estimate's log ratio has it):
        the average of the interval's two halves (`side` None); on `side` "up" the half above the
        estimate, "down" the half below, each never below that average; "both" the wider half."""
        estimate = float(self.estimate)  # type: ignore[arg-type]
        up = (math.log(self.high) - math.log(estimate)) / WOODRUFF_Z  # type: ignore[arg-type]
        down = (math.log(estimate) - math.log(self.low)) / WOODRUFF_Z  # type: ignore[arg-type]
        average = (up + down) / 2.0
        se_log = average if side is None else max({"up": up, "down": down, "both": max(up, down)}[side], average)
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
    side = passing_side(candidate.estimate / baseline.estimate - 1.0, max_drop, max_increase)  # type: ignore[operator]
    return judge_relative(baseline.stats(), candidate.stats(side), max_drop=max_drop, max_increase=max_increase,
                          alpha=alpha, tuning_n=tuning_n, min_units=min_units, horizon_n=horizon_n)


def passing_side(effect: float, max_drop: float | None, max_increase: float | None) -> str | None:
    """The side of the candidate's quantile a pass looks to (see the module contract) when the estimate
    lies within every limit: "up" below a max_increase alone, "down" above a -max_drop alone, "both"
    between the two; None (the average of the halves) when only a fail is possible."""
    if max_increase is not None and effect >= max_increase or max_drop is not None and effect <= -max_drop:
        return None
    if max_increase is not None and max_drop is not None:
        return "both"
    return "up" if max_increase is not None else "down"
