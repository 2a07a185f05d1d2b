"""Simulated rollouts for the statistics tests and benchmarks, looked at many times.

Each rollout is a sequence of looks; per look only the arms' cumulative sufficient statistics
are drawn (binomial increments, summed), never the raw units, so thousands of rollouts of a
million units each take seconds. The verdicts come from the real guard functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rollout_cli.stats import QuantileArm, judge_absolute, judge_relative, judge_relative_quantile, proportion_stats
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.quantile_ratio import woodruff_levels


@dataclass(frozen=True)
class Verdicts:
    """Per rollout: the first decisive outcome (None: undecided after every look) and its look."""

    outcomes: list[Outcome | None]
    looks: np.ndarray  # index of the deciding look, -1 when undecided

    def rate(self, outcome: Outcome) -> float:
        return sum(o is outcome for o in self.outcomes) / len(self.outcomes)


def cumulative_events(rng: np.random.Generator, runs: int, looks: int, units_per_look: int, p: float) -> np.ndarray:
    """Cumulative event counts, shape (runs, looks), after each look of `units_per_look` units."""
    return np.cumsum(rng.binomial(units_per_look, p, size=(runs, looks)), axis=1)


def sequential_relative(base_events: np.ndarray, cand_events: np.ndarray, units_per_look: int, *,
                        max_drop: float, alpha: float, tuning_n: float, min_units: int = 100,
                        horizon_n: float | None = None, tune_at_limit: bool = True) -> Verdicts:
    """Judge every look with `judge_relative`, stopping a rollout at its first pass or fail."""
    runs, looks = base_events.shape
    outcomes: list[Outcome | None] = []
    decided = np.full(runs, -1)
    for run in range(runs):
        verdict = None
        for look in range(looks):
            n = units_per_look * (look + 1)
            result = judge_relative(proportion_stats(n, int(base_events[run, look])),
                                    proportion_stats(n, int(cand_events[run, look])),
                                    max_drop=max_drop, max_increase=None, alpha=alpha, tuning_n=tuning_n,
                                    min_units=min_units, horizon_n=horizon_n, tune_at_limit=tune_at_limit)
            if result.outcome is not Outcome.INCONCLUSIVE:
                verdict = result.outcome
                decided[run] = look
                break
        outcomes.append(verdict)
    return Verdicts(outcomes, decided)


def naive_relative(base_events: np.ndarray, cand_events: np.ndarray, units_per_look: int, *,
                   max_drop: float, alpha: float) -> Verdicts:
    """The same looks judged by a fixed-horizon interval (z = 1.96 at 95%) re-run every time."""
    from scipy.stats import norm

    _runs, looks = base_events.shape
    n = units_per_look * np.arange(1, looks + 1)
    pb = base_events / n
    pc = cand_events / n
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero baseline count decides nothing
        effect = pc / pb - 1
        var = pc * (1 - pc) / n / pb**2 + pc**2 * pb * (1 - pb) / n / pb**4
        half = norm.ppf(1 - alpha / 2) * np.sqrt(var)
        fail = effect + half < -max_drop
        passed = effect - half > -max_drop
    decisive = fail | passed
    first = np.where(decisive.any(axis=1), decisive.argmax(axis=1), -1)
    outcomes: list[Outcome | None] = []
    for run, look in enumerate(first):
        if look < 0:
            outcomes.append(None)
        else:
            outcomes.append(Outcome.FAIL if fail[run, look] else Outcome.PASS)
    return Verdicts(outcomes, first)


def sequential_absolute(events: np.ndarray, units_per_look: int, *, maximum: float, alpha: float,
                        tuning_n: float, min_units: int = 100) -> Verdicts:
    """Judge every look of one arm's 0/1 metric with `judge_absolute(max=...)`."""
    runs, looks = events.shape
    outcomes: list[Outcome | None] = []
    decided = np.full(runs, -1)
    for run in range(runs):
        verdict = None
        for look in range(looks):
            n = units_per_look * (look + 1)
            result = judge_absolute(proportion_stats(n, int(events[run, look])), min=None, max=maximum,
                                    alpha=alpha, tuning_n=tuning_n, min_units=min_units)
            if result.outcome is not Outcome.INCONCLUSIVE:
                verdict = result.outcome
                decided[run] = look
                break
        outcomes.append(verdict)
    return Verdicts(outcomes, decided)


def binomial_upper(rate: float, runs: int, z: float = 3.0) -> float:
    """The largest observed rate consistent with a true `rate` (one-sided, z standard errors)."""
    return rate + z * float(np.sqrt(rate * (1 - rate) / runs))


def quantile_arms(data: np.ndarray, n: int, q: float) -> list[QuantileArm]:
    """Per run: one arm's QuantileArm from its first n values (one per unit), read at the quantile and
    its Woodruff levels as the database would (quantile_cont: numpy's linear method)."""
    levels = woodruff_levels(n, q)
    asked = [q, *(levels or ())]
    values = np.quantile(data[:, :n], asked, axis=1, method="linear")
    return [QuantileArm(units=n, answers=n, estimate=float(values[0, run]),
                        low=float(values[1, run]) if levels else None, high=float(values[2, run]) if levels else None)
            for run in range(data.shape[0])]


def relative_quantile_verdicts(ratio: float, seed: int, runs: int = 300, looks: int = 40, per_look: int = 1000,
                               q: float = 0.99, max_increase: float = 0.10, alpha: float = 0.05,
                               tuning_n: float = 20_000) -> list[Outcome | None]:
    """First decisive outcome per run of `p_q max_increase` with lognormal latencies, the
    candidate's scaled by `ratio` (so its p_q is exactly `ratio` times the baseline's)."""
    rng = np.random.default_rng(seed)
    base = rng.lognormal(4.0, 0.5, size=(runs, looks * per_look))
    cand = ratio * rng.lognormal(4.0, 0.5, size=(runs, looks * per_look))
    first: list[Outcome | None] = [None] * runs
    for k in range(looks):
        n = per_look * (k + 1)
        pairs = zip(quantile_arms(base, n, q), quantile_arms(cand, n, q))
        for run, (b, c) in enumerate(pairs):
            if first[run] is None:
                outcome = judge_relative_quantile(b, c, q, max_drop=None, max_increase=max_increase, alpha=alpha,
                                                  tuning_n=tuning_n, min_units=100).outcome
                if outcome is not Outcome.INCONCLUSIVE:
                    first[run] = outcome
    return first
