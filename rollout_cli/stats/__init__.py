"""Statistics for judging a stage, standard library only (math, statistics.NormalDist).

- sequential: per-arm statistics and always-valid confidence sequences (Waudby-Smith et al. 2021)
- guards: guard outcomes from those intervals, Holm across a stage's fails
- multiplicity: Holm's step-down procedure
- rates: score-type sequences for rates (error rate, agreement)
- srm: sample-ratio mismatch (Pearson chi-square)
- shadow: Wilson interval, McNemar, the agreement statistic
- quantile: always-valid bounds on one arm's quantile (Howard & Ramdas 2022), design effects
- quantile_ratio: the relative quantile guard (log ratio, Woodruff's cluster-robust standard errors)
- planning: fixed-horizon and sequential sample sizes

See docs/statistics.md.
"""

from __future__ import annotations

from rollout_cli.stats.guards import GuardResult, apply_holm, judge_absolute, judge_relative
from rollout_cli.stats.multiplicity import holm
from rollout_cli.stats.planning import fixed_horizon_units, sequential_units
from rollout_cli.stats.quantile import quantile_rank_bounds
from rollout_cli.stats.quantile_ratio import QuantileArm, judge_relative_quantile
from rollout_cli.stats.rates import rate_sequence
from rollout_cli.stats.sequential import (
    ArmStats,
    Interval,
    mean_sequence,
    mean_stats,
    proportion_stats,
    ratio_stats,
    relative_sequence,
    tuning_units,
)
from rollout_cli.stats.shadow import agreement_stats, mcnemar_p_value, wilson_interval
from rollout_cli.stats.srm import SRM_THRESHOLD, is_mismatch, srm_p_value

__all__ = [
    "SRM_THRESHOLD", "ArmStats", "GuardResult", "Interval", "QuantileArm", "agreement_stats", "apply_holm",
    "fixed_horizon_units", "holm", "is_mismatch", "judge_absolute", "judge_relative", "judge_relative_quantile",
    "mcnemar_p_value", "mean_sequence", "mean_stats", "proportion_stats",
    "quantile_rank_bounds", "rate_sequence", "ratio_stats", "relative_sequence", "sequential_units", "srm_p_value",
    "tuning_units", "wilson_interval",
]
