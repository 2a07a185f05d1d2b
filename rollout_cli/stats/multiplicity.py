"""Holm's step-down procedure (Holm 1979) for the fails of a stage.

Many guards times many segments would, tested each at alpha, add up to many false rollbacks.
Holm controls the family-wise error rate (the chance of any false fail) at alpha under any
dependence between the checks, and is uniformly more powerful than Bonferroni.
"""

from __future__ import annotations

import math


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Which hypotheses Holm rejects at family-wise level `alpha` (True = rejected), in input order.

    Sort the m p-values ascending; reject the k-th smallest while p_(k) <= alpha / (m - k + 1),
    and stop at the first that is not. NaN p-values are never rejected (and count in m).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (math.isnan(p_values[i]), p_values[i] if not math.isnan(p_values[i]) else 0))
    rejected = [False] * m
    for rank, index in enumerate(order):
        p = p_values[index]
        if math.isnan(p) or p > alpha / (m - rank):
            break
        rejected[index] = True
    return rejected
