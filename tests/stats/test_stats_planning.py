"""Sample sizes: the fixed-horizon formula and the sequential counterpart."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from rollout_cli.stats import fixed_horizon_units, sequential_units


def test_fixed_horizon_units_match_the_textbook_formula() -> None:
    # Two arms of 10% conversion, detect a 2% relative change, alpha 5% two-sided, power 80%.
    z = norm.ppf(0.975) + norm.ppf(0.8)
    per_arm = z**2 * 2 * 0.09 / (0.1 * 0.02) ** 2
    assert fixed_horizon_units(0.1, 0.09, 0.02, 0.05, 0.8) == pytest.approx(2 * per_arm, rel=1e-6, abs=1)
    assert fixed_horizon_units(0.1, 0.09, -0.02, 0.05, 0.8) == fixed_horizon_units(0.1, 0.09, 0.02, 0.05, 0.8)


def test_fixed_horizon_units_deliver_the_stated_power() -> None:
    # Simulate the one-look z-test at the computed size: it rejects in about 80% of runs.
    n = fixed_horizon_units(0.1, 0.09, 0.04, 0.05, 0.8) // 2
    rng = np.random.default_rng(31)
    pb = rng.binomial(n, 0.10, 20_000) / n
    pc = rng.binomial(n, 0.096, 20_000) / n
    se = np.sqrt(pc * (1 - pc) / n / pb**2 + pc**2 * pb * (1 - pb) / n / pb**4)
    power = np.mean(np.abs(pc / pb - 1) / se > norm.ppf(0.975))
    assert power == pytest.approx(0.8, abs=0.02)


def test_uneven_split_needs_more_units() -> None:
    even = fixed_horizon_units(0.1, 0.09, 0.05, 0.05, 0.8)
    canary = fixed_horizon_units(0.1, 0.09, 0.05, 0.05, 0.8, candidate_share=0.05)
    assert canary > 5 * even


def test_sequential_units_exceed_one_look_at_the_same_alpha() -> None:
    fixed_at_half_power = fixed_horizon_units(0.1, 0.09, 0.02, 0.05, 0.5)
    assert sequential_units(0.1, 0.09, 0.02, 0.05, 700_000) > fixed_at_half_power
    with pytest.raises(ValueError, match="the effect to detect must not be zero"):
        sequential_units(0.1, 0.09, 0.0, 0.05, 5000)
    with pytest.raises(ValueError, match="the baseline mean is zero"):
        fixed_horizon_units(0.0, 0.09, 0.02, 0.05, 0.8)
