"""Holm's step-down procedure."""

from __future__ import annotations

import math
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_cli.stats import holm


def test_textbook_example() -> None:
    # Thresholds for m = 4 are 0.0125, 0.0167, 0.025, 0.05.
    assert holm([0.01, 0.04, 0.03, 0.005], 0.05) == [True, False, False, True]
    assert holm([0.01, 0.015, 0.06, 0.005], 0.05) == [True, True, False, True]
    assert holm([0.01, 0.06, 0.02, 0.005], 0.05) == [True, False, True, True]
    assert holm([0.01, 0.015, 0.02, 0.005], 0.05) == [True, True, True, True]
    assert holm([0.02, 0.02], 0.05) == [True, True]
    assert holm([0.03, 0.026], 0.05) == [False, False]


def test_empty_and_nan() -> None:
    assert holm([], 0.05) == []
    assert holm([math.nan, 0.001], 0.05) == [False, True]
    with pytest.raises(ValueError, match="alpha must be in"):
        holm([0.1], 0.0)


def closed_testing(p_values: list[float], alpha: float) -> list[bool]:
    """Holm is closed testing with Bonferroni: reject H_i when every subset holding i is rejected."""
    m = len(p_values)
    rejected = []
    for i in range(m):
        ok = True
        for size in range(1, m + 1):
            for subset in combinations(range(m), size):
                if i in subset and min(p_values[j] for j in subset) > alpha / size:
                    ok = False
        rejected.append(ok)
    return rejected


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=6))
@settings(derandomize=True)
def test_equals_closed_testing_with_bonferroni(p_values: list[float]) -> None:
    assert holm(p_values, 0.05) == closed_testing(p_values, 0.05)
