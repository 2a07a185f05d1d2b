"""Ratio statistics from random groups of units, and unit counts from occupied hash slots.

Contract (docs/statistics.md, "Shadow comparison: random groups"):
- `GroupTotals`: for one population, K random groups of units (a unit's group is its hash modulo
  K), the totals x_k, y_k of each group (arrays of length K, zero for an empty group), and the
  number of units.
- `grouped_ratio_stats(totals, counts)`: the ratio Σx / Σy as an `ArmStats` on the unit scale.
  Units are independent and spread over the groups at random, so the group totals are independent
  and identically distributed and the delta-method variance of the ratio follows from them alone
  (Wolter, "Introduction to Variance Estimation", 2nd ed., ch. 2, the random group method with
  linearisation): Var(R) = K / (K - 1) · Σ_k (x_k - R y_k)² / (Σy)². `variance` is units · Var(R),
  the variance of one unit's value, so every always-valid interval of `stats.sequential` applies
  unchanged. With fewer units than groups each group holds at most a few units and this is the
  per-unit estimate; with more, it has about K - 1 degrees of freedom.
- `grouped_difference(a, b)`: mean(a) - mean(b) and the variance of one unit's share of it, for
  two populations over the same groups that may share units (a segment value and the rest of the
  window): the linearised values of both ratios are subtracted group by group, so the covariance
  of shared units is counted.
- `linear_count(occupied, slots)`: the number of distinct units from the count of occupied slots
  of a bitmap they were hashed into (Whang et al. 1990, linear counting): slots · ln(slots / empty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rollout_cli.stats.sequential import ArmStats


@dataclass(frozen=True)
class GroupTotals:
    x: np.ndarray  # per group Σx (length K)
    y: np.ndarray  # per group Σy
    units: int

    @property
    def groups(self) -> int:
        return len(self.x)


def _floor(total_y: float) -> float:
    """The Bernoulli variance of one event in `total_y` + 1 trials (`stats.sequential`'s floor)."""
    p = 1.0 / (total_y + 1.0)
    return p * (1.0 - p)


def _linearised(t: GroupTotals) -> tuple[float, np.ndarray] | None:
    total_y = float(t.y.sum())
    if total_y == 0 or t.units < 2 or t.groups < 2:
        return None
    ratio = float(t.x.sum()) / total_y
    return ratio, (t.x - ratio * t.y) / total_y


def grouped_ratio_stats(t: GroupTotals, *, counts: bool = False) -> ArmStats:
    """Σx / Σy with the random-groups variance, on the unit scale (see the module contract)."""
    found = _linearised(t)
    if found is None:
        total_y = float(t.y.sum())
        return ArmStats(n=max(t.units, 0), mean=float(t.x.sum()) / total_y if total_y else math.nan, variance=math.nan)
    ratio, z = found
    k = t.groups
    var_ratio = k / (k - 1) * float(np.dot(z, z))
    variance = t.units * var_ratio
    if not counts:
        return ArmStats(n=t.units, mean=ratio, variance=variance)
    total_y = float(t.y.sum())
    mean_y = total_y / t.units
    return ArmStats(n=t.units, mean=ratio, variance=variance, variance_floor=_floor(total_y) / mean_y,
                    trials_per_unit=mean_y)


def grouped_difference(a: GroupTotals, b: GroupTotals, units: int) -> tuple[float, float] | None:
    """(mean(a) - mean(b), variance of one unit's share of the difference over `units` units), or
    None when either side has no trials. The variance never falls below the two sides' Bernoulli
    floors (a difference of counts with no events is not certain)."""
    fa, fb = _linearised(a), _linearised(b)
    if fa is None or fb is None or units < 2:
        return None
    (ra, za), (rb, zb) = fa, fb
    k = a.groups
    z = za - zb
    var_diff = k / (k - 1) * float(np.dot(z, z))
    # each side's floor on its mean is floor_per_unit / units = _floor(Σy) / Σy
    floor = sum(_floor(float(t.y.sum())) / float(t.y.sum()) for t in (a, b))
    return ra - rb, units * max(var_diff, floor)


def linear_count(occupied: int, slots: int) -> int:
    """Distinct items hashed into `slots` slots of which `occupied` are set (linear counting).
    A full bitmap says only "at least as many as the slots" (the caller bounds it otherwise)."""
    empty = slots - occupied
    if occupied <= 0:
        return 0
    if empty <= 0:
        return slots * 20  # ln(slots) beyond any useful bound; the caller caps it at the rows counted
    return int(round(slots * math.log(slots / empty)))
