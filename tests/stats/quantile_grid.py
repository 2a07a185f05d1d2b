"""The quantile rows of the calibration grid (docs/statistics.md, section 14), shared by the suite and
benchmarks/bench_calibration.py: the relative p99 guard (`max_increase: 10%`) with the candidate
exactly 10% slower, and the absolute p99 guard (`max:` the candidate's true p99) on the same data —
every verdict wrong — judged by the real guard functions at every look.

Requests nested in units: log-latency = unit effect + request noise (total variance 1, the unit
effect carrying `corr` of it), `requests` answers per unit, a unit's answers all within one look.
What the evaluator reads from the database is kept per run and arm as a histogram of the upper
tail of log-latency (bins of HIST_STEP, everything below HIST_LOW counted as one): the quantiles
(`quantile_cont` of the answers, interpolated within a bin) and the per-unit sums behind the design
effect at any threshold (Σa, Σa², Σa·y of a unit's answers above it: a unit's answer that is its
i-th largest adds 2 i - 1 to Σa² at and below its bin).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from rollout_cli.stats import judge_absolute, ratio_stats
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.quantile import design_effect
from rollout_cli.stats.quantile_ratio import QuantileArm, judge_relative_quantile, woodruff_levels

ALPHA = 0.05
Q = 0.99
LIMIT = 0.10
HIST_LOW, HIST_HIGH, HIST_STEP = 1.0, 7.0, 0.002  # log-latency; the p99 is 2.33 (baseline), 2.42 (candidate)
BINS = round((HIST_HIGH - HIST_LOW) / HIST_STEP)
KINDS = ("relative", "absolute")  # the guards judged: the relative p99 guard and the absolute one


@dataclass(frozen=True)
class QuantileRegime:
    """One row: `per_look` units of both arms per look, the candidate's `share` of them."""

    name: str
    per_look: int
    requests: int = 1
    corr: float = 0.0
    share: float = 0.5


@dataclass(frozen=True)
class QuantileRates:
    """Shares of rollouts with any verdict: the relative p99 guard's and the absolute one's."""

    relative: float
    absolute: float


class _Arms:
    """Per run and arm (0 baseline, 1 candidate): the tail histograms and the unit counts so far."""

    def __init__(self, runs: int, requests: int) -> None:
        self.k = requests
        self.units = np.zeros((runs, 2))
        self.below = np.zeros((runs, 2))  # answers under HIST_LOW
        self.count = np.zeros((runs, 2, BINS))
        self.sq = np.zeros((runs, 2, BINS))  # Σ over answers of (2 i - 1), i its rank in its unit from the top

    def add(self, logs: np.ndarray, arm: np.ndarray) -> None:
        """`logs` (runs, units, requests) of new units, `arm` (runs, units) their arm."""
        runs = logs.shape[0]
        if self.k > 1:
            logs = -np.sort(-logs, axis=2)  # a unit's answers, largest first
        ranks = np.broadcast_to(np.arange(1, self.k + 1), logs.shape)
        cell = np.broadcast_to((np.arange(runs)[:, None] * 2 + arm)[:, :, None], logs.shape)
        self.units += np.stack([(arm == 0).sum(axis=1), (arm == 1).sum(axis=1)], axis=1)
        tail = logs >= HIST_LOW
        below = np.bincount(cell[~tail], minlength=runs * 2).reshape(runs, 2)
        self.below += below
        bins = np.minimum(((logs[tail] - HIST_LOW) / HIST_STEP).astype(np.int64), BINS - 1)
        index = cell[tail] * BINS + bins
        self.count += np.bincount(index, minlength=runs * 2 * BINS).reshape(runs, 2, BINS)
        self.sq += np.bincount(index, weights=2.0 * ranks[tail] - 1.0, minlength=runs * 2 * BINS).reshape(
            runs, 2, BINS)

    def quantile(self, level: np.ndarray) -> np.ndarray:
        """quantile_cont at `level` (runs, 2) of log-latency, interpolated within a bin (nan under HIST_LOW)."""
        total = self.below + self.count.sum(axis=2)
        rank = level * (total - 1)  # 0-based position among the sorted answers
        cum = self.below[:, :, None] + np.cumsum(self.count, axis=2)
        b = np.minimum((cum <= rank[:, :, None]).sum(axis=2), BINS - 1)
        before = np.take_along_axis(cum, b[:, :, None], axis=2)[:, :, 0] - np.take_along_axis(
            self.count, b[:, :, None], axis=2)[:, :, 0]
        inside = np.take_along_axis(self.count, b[:, :, None], axis=2)[:, :, 0]
        value = HIST_LOW + HIST_STEP * (b + (rank - before + 0.5) / np.maximum(inside, 1.0))
        return np.where(rank < self.below, np.nan, value)

    def above(self, threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Σa, Σa²) over units, a = a unit's answers above `threshold` (runs, 2, log-latency)."""
        b = np.clip(((threshold - HIST_LOW) / HIST_STEP).astype(np.int64) + 1, 0, BINS)
        top = np.flip(np.cumsum(np.flip(self.count, 2), 2), 2)
        top_sq = np.flip(np.cumsum(np.flip(self.sq, 2), 2), 2)
        pad = np.zeros((*b.shape, 1))
        a = np.take_along_axis(np.concatenate([top, pad], 2), b[:, :, None], 2)[:, :, 0]
        a2 = np.take_along_axis(np.concatenate([top_sq, pad], 2), b[:, :, None], 2)[:, :, 0]
        return a, a2

    def design(self, threshold: np.ndarray) -> np.ndarray:
        """The design effect at `threshold` per run and arm, as stats.quantile.design_effect gives it."""
        if self.k == 1:
            return np.ones(threshold.shape)
        a, a2 = self.above(threshold)
        out = np.ones(threshold.shape)
        for index in np.ndindex(*threshold.shape):
            units, k = self.units[index], self.k
            requests = units * k
            below = requests - a[index]
            below_sq = units * k * k - 2.0 * k * a[index] + a2[index]
            out[index] = design_effect(int(units), requests, below, below_sq, units * k * k - k * a[index],
                                       units * k * k)
        return out


@dataclass(frozen=True)
class QuantileVerdicts:
    """Per rollout, the relative guard's first verdict (None: none) and the units of both arms then,
    and the absolute guard's first verdict."""

    relative: list[Outcome | None]
    units: list[float]
    absolute: list[Outcome | None]


def wrong_verdicts(regime: QuantileRegime, runs: int, looks: int, seed: int, declared: bool = False,
                   kinds: tuple[str, ...] = KINDS) -> QuantileRates:
    """Shares of rollouts with any verdict of the relative p99 guard (candidate exactly 10% slower) and of
    the absolute one (`max:` the candidate's true p99), 95% confidence, alpha spent within the stage (its
    units over all looks); tuned at the default 5,000 units, or (`declared`) at a quarter of the stage.
    A guard left out of `kinds` is not judged and reads nan (the data stay the same)."""
    found = first_verdicts(regime, runs, looks, seed, declared, kinds=kinds)
    return QuantileRates(*(sum(o is not None for o in outcomes) / runs if kind in kinds else math.nan
                           for kind, outcomes in (("relative", found.relative), ("absolute", found.absolute))))


def first_verdicts(regime: QuantileRegime, runs: int, looks: int, seed: int, declared: bool = False,
                   slower: float = LIMIT, kinds: tuple[str, ...] = KINDS) -> QuantileVerdicts:
    """The first verdicts of `wrong_verdicts`' guards with the candidate `slower` (0.2: 20% slower; the
    absolute guard's limit stays the true p99 of a candidate LIMIT slower)."""
    rng = np.random.default_rng(seed)
    arms = _Arms(runs, regime.requests)
    shift = math.log1p(slower)
    truth = math.log1p(LIMIT) + float(norm.ppf(Q))  # the true p99 of a candidate at the limit, log scale
    horizon = float(regime.per_look * looks)
    tuning_n = horizon / 4.0 if declared else 5000.0  # both arms (relative); the candidate's share of it (absolute)
    tuning_c = horizon * regime.share / 4.0 if declared else 5000.0
    relative: list[Outcome | None] = [None] * runs
    absolute: list[Outcome | None] = [None] * runs
    units = [math.nan] * runs
    for _ in range(looks):
        arm = (rng.random((runs, regime.per_look)) < regime.share).astype(np.int64)
        logs = (rng.normal(0.0, math.sqrt(regime.corr), (runs, regime.per_look, 1))
                + rng.normal(0.0, math.sqrt(1.0 - regime.corr), (runs, regime.per_look, regime.requests))
                + shift * arm[:, :, None])
        arms.add(logs, arm)
        answers = arms.units * regime.requests
        exceed, exceed_sq = arms.above(np.full((runs, 2), truth))
        if "relative" not in kinds:  # the same draws, only the absolute guard judged
            _judge_absolute_look(regime, arms, exceed, exceed_sq, absolute, tuning_c, horizon)
            continue
        estimate = arms.quantile(np.full((runs, 2), Q))
        design = arms.design(estimate)  # at the estimate, as the evaluator takes it
        levels = np.full((runs, 2, 2), np.nan)
        for run, a in np.ndindex(runs, 2):
            found = woodruff_levels(int(answers[run, a]), Q, float(design[run, a]))
            if found is not None:
                levels[run, a] = found
        low, high = arms.quantile(levels[:, :, 0]), arms.quantile(levels[:, :, 1])
        for run in range(runs):
            if "relative" in kinds and relative[run] is None:
                b, c = (QuantileArm(int(arms.units[run, a]), int(answers[run, a]), _value(estimate[run, a]),
                                    _value(low[run, a]), _value(high[run, a]), float(design[run, a])) for a in (0, 1))
                result = judge_relative_quantile(b, c, Q, max_drop=None, max_increase=LIMIT, alpha=ALPHA,
                                                 tuning_n=tuning_n, min_units=100, horizon_n=horizon)
                if result.outcome is not Outcome.INCONCLUSIVE:
                    relative[run], units[run] = result.outcome, float(arms.units[run].sum())
        if "absolute" in kinds:
            _judge_absolute_look(regime, arms, exceed, exceed_sq, absolute, tuning_c, horizon)
    return QuantileVerdicts(relative, units, absolute)


def _judge_absolute_look(regime: QuantileRegime, arms: _Arms, exceed: np.ndarray, exceed_sq: np.ndarray,
                         absolute: list[Outcome | None], tuning_c: float, horizon: float) -> None:
    """One look of the absolute p99 guard (the candidate's share of answers beyond the limit, per unit)
    for every rollout still undecided; its first verdict is kept in `absolute`."""
    for run in range(len(absolute)):
        if absolute[run] is None:
            n, k = int(arms.units[run, 1]), regime.requests
            share = ratio_stats(n, float(exceed[run, 1]), float(n * k), float(exceed_sq[run, 1]), float(n * k * k),
                                float(k * exceed[run, 1]), counts=True)
            result = judge_absolute(share, min=None, max=1.0 - Q, alpha=ALPHA, tuning_n=tuning_c,
                                    min_units=100, horizon_n=horizon * regime.share)
            if result.outcome is not Outcome.INCONCLUSIVE:
                absolute[run] = result.outcome


def _value(log_value: float) -> float | None:
    return None if math.isnan(log_value) else math.exp(log_value)


# The quantile rows (docs/statistics.md, section 14).
QUANTILE_GRID = [
    QuantileRegime("p99: 1 request/unit, 1,000 units/look, 50/50", 1000),
    QuantileRegime("p99: 20 requests/unit, correlation 0, 200 units/look, 50/50", 200, requests=20),
    QuantileRegime("p99: 20 requests/unit, correlation 0.25, 200 units/look, 50/50", 200, requests=20, corr=0.25),
    QuantileRegime("p99: 20 requests/unit, correlation 0.64, 200 units/look, 50/50", 200, requests=20, corr=0.64),
    QuantileRegime("p99: 50 requests/unit, correlation 0.64, 100 units/look, 50/50", 100, requests=50, corr=0.64),
    QuantileRegime("p99: 20 requests/unit, correlation 0.25, 1,000 units/look, 5% candidate", 1000, requests=20,
                   corr=0.25, share=0.05),
    QuantileRegime("p99: 1 request/unit, 4,000 units/look, 5% candidate", 4000, share=0.05),
    QuantileRegime("p99: 20 requests/unit, correlation 0.64, 150 units/look, 50/50", 150, requests=20, corr=0.64),
]
