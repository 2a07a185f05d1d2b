"""The exact unit-level rule of absolute rate guards (docs/statistics.md, section 4, "Few units holding
the events"): until the design factor can be trusted, a guard may also pass by a test on the units
holding events, which needs no design factor and spends `rates.EXACT_SHARE` of alpha.

Its case: a healthy shadow segment of a few hundred users with no disagreement at all. Judged with the
worst-case factor (each unit one trial) its agreement guard `min: 90%` stayed inconclusive at 105 units
(interval down to 74%); 105 units none of which disagrees rule out 10% of units disagreeing, whatever
the correlation of a unit's requests.

Fixed seeds; the simulations are fully clustered (each unit's trials all alike), the worst case the rule
must survive."""

from __future__ import annotations

import math

import numpy as np

from rollout_cli.stats import judge_absolute, ratio_stats
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.rates import EXACT_SHARE, TRUSTED_EVENTS, exact_pass_p_value, rate_sequence
from rollout_cli.stats.sequential import proportion_stats

ALPHA = 0.05
TRIALS = 20  # requests per unit


def _share(units: int, holding: int, each: int = 1):
    """A rate with `each` events among the TRIALS trials of `holding` units (the other units have none)."""
    total = float(holding * each)
    return ratio_stats(units, total, float(units * TRIALS), float(holding * each * each), float(units * TRIALS ** 2),
                       TRIALS * total, counts=True)


def _agreement(units: int, disagreeing: list[int]):
    """Agreement with `disagreeing[i]` of unit i's TRIALS requests disagreeing."""
    a = np.asarray([TRIALS - d for d in disagreeing] + [TRIALS] * (units - len(disagreeing)), dtype=float)
    return ratio_stats(units, float(a.sum()), float(units * TRIALS), float((a * a).sum()), float(units * TRIALS ** 2),
                       TRIALS * float(a.sum()), counts=True)


def test_a_segment_with_no_disagreement_passes_its_agreement_guard_by_the_exact_rule() -> None:
    arm = _agreement(105, [])
    score_only = rate_sequence(arm, ALPHA, 5000.0, corrected=True)
    assert score_only.low < 0.9  # the worst-case factor alone cannot yet exclude the limit
    result = judge_absolute(arm, min=0.9, max=None, alpha=ALPHA, tuning_n=5000, min_units=100)
    assert result.outcome is Outcome.PASS, result.reason
    assert "exact rule" in result.reason
    assert result.interval is not None and 0.9 < result.interval.low < 1.0  # interval and outcome agree
    assert result.p_pass <= ALPHA


def test_no_error_in_few_units_passes_a_max_guard_and_an_error_keeps_it_honest() -> None:
    """`max: 5%` with no error in 150 units passes; 8 errors held by 8 of them do not (at most 8 of 150
    units, 5.3%, may hold errors: the limit is not excluded)."""
    assert judge_absolute(_share(150, 0), min=None, max=0.05, alpha=ALPHA, tuning_n=5000,
                          min_units=100).outcome is Outcome.PASS
    assert judge_absolute(_share(150, 8), min=None, max=0.05, alpha=ALPHA, tuning_n=5000,
                          min_units=100).outcome is Outcome.INCONCLUSIVE


def test_an_excess_held_by_few_units_still_fails() -> None:
    """10 of 150 units with every one of their 20 trials an error (6.7% against `max: 1%`, about 10
    effective events): more events than units, the exact rule has nothing to say and the fail stands."""
    result = judge_absolute(_share(150, 10, TRIALS), min=None, max=0.01, alpha=ALPHA, tuning_n=5000, min_units=100)
    assert result.outcome is Outcome.FAIL, result.reason
    assert exact_pass_p_value(_share(150, 10, TRIALS), None, 0.01) == 1.0


def test_more_events_never_make_the_rule_readier_to_pass() -> None:
    p = [exact_pass_p_value(_agreement(200, [1] * k), 0.9, None) for k in range(0, 25, 3)]
    assert all(x is not None for x in p)
    assert p == sorted(p) and p[0] < EXACT_SHARE * ALPHA < p[-1]


def test_the_rule_applies_only_while_the_worst_case_factor_does() -> None:
    """One trial per unit keeps its known factor; TRUSTED_EVENTS effective events bring the measured one;
    a two-sided guard has no one-sided edge to count from."""
    assert exact_pass_p_value(proportion_stats(400, 0), None, 0.05) is None
    assert exact_pass_p_value(_share(20_000, 2 * TRUSTED_EVENTS), None, 0.05) is None
    assert exact_pass_p_value(_share(400, 0), 0.001, 0.05) is None
    assert exact_pass_p_value(_share(400, 0), None, 0.05) is not None


def _clustered_at_limit(limit: float, per_look: int, looks: int, runs: int, seed: int) -> np.ndarray:
    """Cumulative units holding events (all of a unit's trials alike, a unit an event with probability
    `limit`: the rate exactly at the limit) after each look, runs x looks."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.binomial(per_look, limit, (runs, looks)), axis=1)


def test_at_the_limit_the_rule_alone_passes_wrongly_at_most_its_share_of_alpha() -> None:
    """4,000 rollouts x 100 looks of 30 fully clustered units at `max: 10%`: Ville's inequality bounds
    the rule's wrong passes at EXACT_SHARE x alpha = 0.25%, checked up to two standard errors."""
    limit, per_look, looks, runs = 0.10, 30, 100, 4000
    holding = _clustered_at_limit(limit, per_look, looks, runs, seed=3)
    wrong = 0
    for run in range(runs):
        for look in range(looks):
            n, k = per_look * (look + 1), int(holding[run, look])
            if k / n >= limit:  # no evidence at all for a share below the limit
                continue
            p = exact_pass_p_value(_share(n, k, TRIALS), None, limit)  # None: the measured factor judges
            if p is not None and p <= EXACT_SHARE * ALPHA:
                wrong += 1
                break
    share, bound = wrong / runs, EXACT_SHARE * ALPHA
    print(f"\nexact rule alone at its limit: {share:.3%} wrong passes of {runs} rollouts (bound {bound:.2%})")
    assert share <= bound + 2 * math.sqrt(bound * (1 - bound) / runs)


def test_at_the_limit_the_guard_with_both_rules_stays_within_alpha() -> None:
    """1,000 rollouts x 40 looks of 50 fully clustered units at `max: 10%`, the guard as evaluated (score
    interval at 95% of alpha, exact rule at 5%): wrong verdicts at most 5% up to two standard errors."""
    limit, per_look, looks, runs = 0.10, 50, 40, 1000
    holding = _clustered_at_limit(limit, per_look, looks, runs, seed=11)
    decided = 0
    for run in range(runs):
        for look in range(looks):
            n = per_look * (look + 1)
            result = judge_absolute(_share(n, int(holding[run, look]), TRIALS), min=None, max=limit,
                                    alpha=ALPHA, tuning_n=5000, min_units=100, horizon_n=float(per_look * looks))
            if result.outcome is not Outcome.INCONCLUSIVE:
                decided += 1
                break
    share = decided / runs
    print(f"\nfully clustered rate at its limit: {share:.2%} wrong verdicts of {runs} rollouts")
    assert share <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
