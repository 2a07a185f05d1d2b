"""The calibration grid (docs/statistics.md, section 14): with the true effect exactly at the limit,
wrong verdicts (a pass or a fail, the first verdict of each rollout over all its looks) stay at
most 5%; an A/A stage with several guards and the SRM test together falsely stops at most 5%.

Fixed seeds; the real guard functions (alpha spent within the default horizon) judge cumulative
sufficient statistics, drawn per look. The full grid at scale is benchmarks/bench_speed.py's."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from rollout_cli.stats import apply_holm, judge_absolute, judge_relative, mean_stats, proportion_stats
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.srm_sequential import anytime_srm_p_value

ALPHA = 0.05
LOOKS = 60
RUNS = 300


@dataclass(frozen=True)
class Regime:
    name: str
    rate: float  # baseline rate (proportions) or share of spenders (means)
    per_look: int  # units per look, both arms together
    share: float  # the candidate's share of units
    kind: str  # "proportion", "mean" (relative, 10% spending lognormal(3, 1)) or "absolute"
    limit: float = 0.10  # max_increase (relative) or max (absolute)


GRID = [
    Regime("rate 0.1%, 20,000 units per look, 50/50", 0.001, 20_000, 0.5, "proportion"),
    Regime("rate 2%, 200 units per look, 50/50", 0.02, 200, 0.5, "proportion"),
    Regime("rate 50%, 200 units per look, 50/50", 0.5, 200, 0.5, "proportion"),
    Regime("rate 10%, 100,000 units per look, 1% candidate", 0.10, 100_000, 0.01, "proportion"),
    Regime("rate 10%, 2,000 units per look, 20% candidate", 0.10, 2000, 0.2, "proportion"),
    Regime("revenue (10% spend lognormal(3, 1)), 1,000 units per look, 50/50", 0.10, 1000, 0.5, "mean"),
    Regime("absolute error rate at max 0.5%, 400 units per look", 0.005, 400, 1.0, "absolute", 0.005),
]


def _revenue(rng: np.random.Generator, n: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per look: Σx, Σx², Σx³ of n units, 10% spending lognormal(3, 1) times `scale`."""
    spenders = rng.binomial(n, 0.10)
    sums = np.zeros((3, *n.shape))
    for index, k in np.ndenumerate(spenders):
        values = scale * rng.lognormal(3.0, 1.0, int(k))
        sums[:, index[0], index[1]] = values.sum(), (values**2).sum(), (values**3).sum()
    return sums[0], sums[1], sums[2]


def wrong_verdicts(regime: Regime, seed: int) -> float:
    rng = np.random.default_rng(seed)
    cand_n = rng.binomial(regime.per_look, regime.share, (RUNS, LOOKS))
    base_n = regime.per_look - cand_n
    ratio = 1.0 + regime.limit
    if regime.kind == "mean":
        base = [np.cumsum(s, axis=1) for s in _revenue(rng, base_n, 1.0)]
        cand = [np.cumsum(s, axis=1) for s in _revenue(rng, cand_n, ratio)]
    else:
        cand_rate = regime.rate if regime.kind == "absolute" else regime.rate * ratio
        base = [np.cumsum(rng.binomial(base_n, regime.rate), axis=1)]
        cand = [np.cumsum(rng.binomial(cand_n, cand_rate), axis=1)]
    nb, nc = np.cumsum(base_n, axis=1), np.cumsum(cand_n, axis=1)
    wrong = 0
    for run in range(RUNS):
        for look in range(LOOKS):
            if regime.kind == "mean":
                b = mean_stats(int(nb[run, look]), *(float(s[run, look]) for s in base))
                c = mean_stats(int(nc[run, look]), *(float(s[run, look]) for s in cand))
            else:
                b = proportion_stats(int(nb[run, look]), int(base[0][run, look]))
                c = proportion_stats(int(nc[run, look]), int(cand[0][run, look]))
            if regime.kind == "absolute":
                result = judge_absolute(c, min=None, max=regime.limit, alpha=ALPHA, tuning_n=5000, min_units=100)
            else:
                result = judge_relative(b, c, max_drop=None, max_increase=regime.limit, alpha=ALPHA, tuning_n=5000,
                                        min_units=100)
            if result.outcome is not Outcome.INCONCLUSIVE:
                wrong += 1
                break
    return wrong / RUNS


@pytest.mark.slow
@pytest.mark.parametrize("regime", GRID, ids=[r.name for r in GRID])
def test_wrong_verdicts_at_the_limit_stay_within_alpha(regime: Regime) -> None:
    share = wrong_verdicts(regime, seed=71)
    print(f"\n{regime.name}: wrong verdicts at the limit {share:.2%} of {RUNS} rollouts x {LOOKS} looks")
    assert share <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)


@pytest.mark.slow
def test_an_equal_candidate_is_falsely_stopped_at_most_alpha_by_all_checks_and_srm_together() -> None:
    rng = np.random.default_rng(72)
    runs, looks, per_look, share = 400, 60, 2000, 0.5
    segments = [0.5, 0.3, 0.2]  # three segment values, each judged as well as the whole
    cand_n = rng.binomial(per_look, share, (runs, looks))
    stops = 0
    for run in range(runs):
        totals = np.zeros((len(segments), 2, 3))  # segment x arm x (units, conversions, errors)
        for look in range(looks):
            for arm, units in enumerate((per_look - cand_n[run, look], cand_n[run, look])):
                split = rng.multinomial(units, segments)
                totals[:, arm, 0] += split
                totals[:, arm, 1] += rng.binomial(split, 0.10)
                totals[:, arm, 2] += rng.binomial(split, 0.002)
            whole = totals.sum(axis=0)
            results = []
            for cells in [whole, *totals]:
                b, c = (proportion_stats(int(cells[a, 0]), int(cells[a, 1])) for a in (0, 1))
                results.append(judge_relative(b, c, max_drop=0.02, max_increase=None, alpha=ALPHA, tuning_n=5000,
                                              min_units=100))
                errors = proportion_stats(int(cells[1, 0]), int(cells[1, 2]))
                results.append(judge_absolute(errors, min=None, max=0.005, alpha=ALPHA, tuning_n=5000, min_units=100))
            failed = any(r.outcome is Outcome.FAIL for r in apply_holm(results, ALPHA))
            srm = anytime_srm_p_value([int(whole[0, 0]), int(whole[1, 0])], [1 - share, share]) < 0.001
            if failed or srm:
                stops += 1
                break
    rate = stops / runs
    print(f"\nA/A, 8 checks (conversion max_drop 2% and errors max 0.5%, whole and 3 segments) and SRM: "
          f"false stops {rate:.2%} of {runs} rollouts x {looks} looks")
    assert rate <= ALPHA
