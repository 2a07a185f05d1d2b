"""Proofs by simulation that the guards stay honest when looked at after every tick (issue 3, item 7).

Every rollout is evaluated at each of 200 looks and stops at its first pass or fail, as a
controller would. Fixed seeds; the thresholds carry a stated binomial tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from stats_simulation import (
    binomial_upper,
    cumulative_events,
    naive_relative,
    sequential_absolute,
    sequential_relative,
)

from rollout_cli.stats import fixed_horizon_units
from rollout_cli.stats.outcome import Outcome

ALPHA = 0.05  # confidence 95%
RUNS = 1000
LOOKS = 200
UNITS_PER_LOOK = 5000  # per arm; 1,000,000 per arm after the last look
BASELINE = 0.10  # conversion
MAX_DROP = 0.02
# The stage expects about the fixed-horizon number of units (both arms), and says so.
TUNING_N = float(fixed_horizon_units(BASELINE, BASELINE * (1 - BASELINE), MAX_DROP, ALPHA, 0.8))


@pytest.fixture(scope="module")
def at_the_limit() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    base = cumulative_events(rng, RUNS, LOOKS, UNITS_PER_LOOK, BASELINE)
    cand = cumulative_events(rng, RUNS, LOOKS, UNITS_PER_LOOK, BASELINE * (1 - MAX_DROP))
    return base, cand


def test_wrong_verdicts_at_the_limit_stay_below_one_minus_confidence(at_the_limit) -> None:
    # The true relative change is exactly -2%, the limit: a pass and a fail are both wrong.
    base, cand = at_the_limit
    verdicts = sequential_relative(base, cand, UNITS_PER_LOOK, max_drop=MAX_DROP, alpha=ALPHA, tuning_n=TUNING_N)
    wrong = verdicts.rate(Outcome.PASS) + verdicts.rate(Outcome.FAIL)
    print(f"\nalways-valid at the limit: pass {verdicts.rate(Outcome.PASS):.3f}, "
          f"fail {verdicts.rate(Outcome.FAIL):.3f} over {RUNS} rollouts x {LOOKS} looks")
    # The claim: at or below 1 - confidence, up to sampling error — under 5% plus three binomial standard
    # errors of a 5% rate over RUNS rollouts. Measured 5.3% with this seed (one standard error is 0.7
    # points) and 3.8%, 4.2%, 4.3% with seeds 11-13 of the same setting (4.4% over the 4,000 rollouts):
    # alpha is spent nearly in full here, as section 2 of docs/statistics.md intends, so one seed's point
    # estimate sits on either side of 5%.
    assert wrong <= binomial_upper(ALPHA, RUNS)


def test_a_fixed_horizon_interval_rerun_at_every_look_is_not_honest(at_the_limit) -> None:
    base, cand = at_the_limit
    at_100 = naive_relative(base[:, :100], cand[:, :100], UNITS_PER_LOOK, max_drop=MAX_DROP, alpha=ALPHA)
    at_200 = naive_relative(base, cand, UNITS_PER_LOOK, max_drop=MAX_DROP, alpha=ALPHA)
    wrong_100 = at_100.rate(Outcome.PASS) + at_100.rate(Outcome.FAIL)
    wrong_200 = at_200.rate(Outcome.PASS) + at_200.rate(Outcome.FAIL)
    print(f"\nnaive repeated z-interval at the limit: wrong {wrong_100:.3f} at 100 looks, {wrong_200:.3f} at 200")
    assert wrong_100 > 0.25
    assert wrong_200 >= wrong_100


def test_a_harm_of_twice_the_limit_is_caught() -> None:
    rng = np.random.default_rng(7)
    base = cumulative_events(rng, RUNS, LOOKS, UNITS_PER_LOOK, BASELINE)
    cand = cumulative_events(rng, RUNS, LOOKS, UNITS_PER_LOOK, BASELINE * (1 - 2 * MAX_DROP))
    verdicts = sequential_relative(base, cand, UNITS_PER_LOOK, max_drop=MAX_DROP, alpha=ALPHA, tuning_n=TUNING_N)
    power = verdicts.rate(Outcome.FAIL)
    caught = verdicts.looks[[o is Outcome.FAIL for o in verdicts.outcomes]]
    median_units = float(np.median(2 * UNITS_PER_LOOK * (caught + 1)))
    fixed = fixed_horizon_units(BASELINE, BASELINE * (1 - BASELINE), MAX_DROP, ALPHA, 0.8)
    print(f"\nharm of 4% against a 2% limit: caught in {power:.3f} of rollouts; median units to catch "
          f"{median_units:,.0f} (both arms) vs fixed-horizon n {fixed:,} at 80% power")
    assert power >= 0.9
    assert verdicts.rate(Outcome.PASS) == 0.0
    # The price of looking at will: more units than one planned look, but not wildly more.
    assert median_units < 2 * fixed


def test_the_absolute_guard_at_its_limit_under_200_looks() -> None:
    # error_rate max 0.5%, and the candidate's true error rate is exactly 0.5%.
    rng = np.random.default_rng(99)
    runs, units = 1000, 2000
    events = cumulative_events(rng, runs, LOOKS, units, 0.005)
    verdicts = sequential_absolute(events, units, maximum=0.005, alpha=ALPHA, tuning_n=5000)
    wrong = verdicts.rate(Outcome.PASS) + verdicts.rate(Outcome.FAIL)
    print(f"\nabsolute guard at its limit: pass {verdicts.rate(Outcome.PASS):.3f}, "
          f"fail {verdicts.rate(Outcome.FAIL):.3f}")
    assert wrong <= ALPHA  # 1 - confidence, as the issue asks (measured 2.6%)


def test_a_healthy_candidate_with_no_errors_passes_the_absolute_guard() -> None:
    rng = np.random.default_rng(5)
    events = cumulative_events(rng, 200, 50, 2000, 0.0)
    verdicts = sequential_absolute(events, 2000, maximum=0.005, alpha=ALPHA, tuning_n=5000)
    assert verdicts.rate(Outcome.PASS) == 1.0
    # With no errors at all, 2,000 units are enough to bound the rate below 0.5%.
    assert int(verdicts.looks.max()) == 0


def test_wrong_verdicts_stay_bounded_from_the_first_hundred_units_at_a_low_rate() -> None:
    # 2% conversion, looks of 100 units per arm from the very first: 2 expected conversions at
    # the first look. The log-ratio scale keeps the early false fails in check here.
    rng = np.random.default_rng(404)
    base = cumulative_events(rng, RUNS, LOOKS, 100, 0.02)
    cand = cumulative_events(rng, RUNS, LOOKS, 100, 0.02 * (1 - MAX_DROP))
    verdicts = sequential_relative(base, cand, 100, max_drop=MAX_DROP, alpha=ALPHA, tuning_n=5000)
    wrong = verdicts.rate(Outcome.PASS) + verdicts.rate(Outcome.FAIL)
    print(f"\nat the limit from 100 units, 2% conversion: pass {verdicts.rate(Outcome.PASS):.3f}, "
          f"fail {verdicts.rate(Outcome.FAIL):.3f}")
    assert wrong <= binomial_upper(ALPHA, RUNS)
