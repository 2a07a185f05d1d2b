"""From sums to figures: rates with always-valid intervals, group differences, Holm across segments,
the label table, rank correlation and the busy-against-quiet latency comparison.

Contract (statistics in docs/statistics.md, "Shadow comparison"):
- `rate(sums)`: a share of requests judged per unit (delta method over units, Bernoulli floor) with
  the score-type always-valid interval of `stats.rates` — the agreement guard's statistic.
- `difference(a, b)`: the difference of two independent estimates (disjoint units) with an
  always-valid interval and p-value from the normal-mixture sequence of `stats.sequential`, tuned
  at the stage's fixed size (`tuning_units(stage.min_units)`, as the rates): tuned at the window's
  own units the boundary would be the same z at every look, a fixed-sample test repeated.
- `segment_rows(...)`: every segment value against the rest of the window; Holm across all values
  of all segment columns on the one-sided p-values "this value is no worse than the rest".
- `label_comparison(frame, top)`: the confusion table of the `top` labels plus "other".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rollout_cli.shadow.result import Comparison, LabelComparison, Rate, SegmentRow
from rollout_cli.shadow.scans import Population, RatioSums
from rollout_cli.stats.multiplicity import holm
from rollout_cli.stats.random_groups import GroupTotals, grouped_difference, grouped_ratio_stats
from rollout_cli.stats.rates import rate_sequence
from rollout_cli.stats.sequential import ArmStats, exclusion_p_value, halfwidth, rho_squared
from rollout_cli.stats.shadow import mcnemar_p_value


def _totals(sums: RatioSums) -> GroupTotals:
    return GroupTotals(x=sums.x, y=sums.y, units=sums.n)


def stats_of(sums: RatioSums, *, counts: bool = True) -> ArmStats:
    """The ratio's unit-scale statistics from its random-group totals (stats.random_groups)."""
    return grouped_ratio_stats(_totals(sums), counts=counts)


def rate(sums: RatioSums, alpha: float, tuning_n: float) -> Rate:
    """count / total with its always-valid score interval (None below two units or without trials)."""
    value = sums.sx / sums.sy if sums.sy else None
    arm = stats_of(sums)
    interval = None
    if arm.n >= 2 and arm.is_finite and arm.trials_per_unit > 0:
        found = rate_sequence(arm, alpha, tuning_n)
        interval = (found.low, found.high)
    return Rate(count=int(sums.sx), total=int(sums.sy), units=sums.n, value=value, interval=interval)


def minus(whole: RatioSums, part: RatioSums) -> RatioSums:
    """The requests of `whole` outside `part`: group totals subtract (a unit may be on both sides,
    so the units are those of `whole`, an upper bound)."""
    return RatioSums(whole.n, whole.sx - part.sx, whole.sy - part.sy, whole.x - part.x, whole.y - part.y)


def versus_rest(part: RatioSums, whole: RatioSums, alpha: float, tuning_n: float) -> Comparison:
    """part's ratio minus the rest's: the same groups on both sides, so units in both count once
    (stats.random_groups.grouped_difference); sized at the window's units, tuned at the stage's
    fixed `tuning_n`."""
    found = grouped_difference(_totals(part), _totals(minus(whole, part)), whole.n)
    if found is None or not all(math.isfinite(v) for v in found):
        return Comparison(effect=None, interval=None, p_value=1.0, credible=False)
    return _compared(found[0], found[1], whole.n, alpha, tuning_n, True)


def difference(a: ArmStats, b: ArmStats, alpha: float, tuning_n: float, worse_below: bool = True) -> Comparison:
    """a.mean - b.mean for independent groups: always-valid interval, one-sided p-value of "a is no
    worse than b" (worse = lower when `worse_below`), credible when that p-value is at most alpha."""
    if a.n < 2 or b.n < 2 or not (a.is_finite and b.is_finite):
        return Comparison(effect=None, interval=None, p_value=1.0, credible=False)
    n = a.n + b.n
    per_unit = (a.effective_variance / a.n + b.effective_variance / b.n) * n  # variance of one unit's share
    return _compared(a.mean - b.mean, per_unit, n, alpha, tuning_n, worse_below)


def _compared(effect: float, per_unit: float, n: int, alpha: float, tuning_n: float,
              worse_below: bool) -> Comparison:
    # a fixed tuning size, whatever n is: rho² = c / n would make the boundary a fixed z at every look
    rho2 = rho_squared(alpha, tuning_n)
    width = halfwidth(per_unit, n, alpha, rho2) if per_unit > 0 else 0.0
    harmful = effect < 0 if worse_below else effect > 0
    # the two-sided sequence at alpha; its p-value is for "the difference is 0", taken on the harmful side
    p_value = exclusion_p_value(abs(effect), per_unit, n, rho2) if harmful else 1.0
    return Comparison(effect=effect, interval=(effect - width, effect + width), p_value=p_value,
                      credible=harmful and p_value <= alpha)


def segment_rows(sums: dict[Population, dict[str, RatioSums]], alpha: float, tuning_n: float) -> list[SegmentRow]:
    """Each segment value against the rest; Holm across them all; most worse-than-overall first."""
    whole = sums.get(None)
    if whole is None:
        return []
    overall = rate(whole["agree"], alpha, tuning_n).value
    built = []
    for population, cell in sums.items():
        if population is None:
            continue
        agreement = rate(cell["agree"], alpha, tuning_n)
        vs_rest = versus_rest(cell["agree"], whole["agree"], alpha, tuning_n)
        cov_rest = versus_rest(cell["cover"], whole["cover"], alpha, tuning_n)
        built.append((population, cell, agreement, vs_rest, cov_rest))
    worse = holm([c.p_value for *_, c, _ in built], alpha) if built else []
    cov_worse = holm([c.p_value for *_, c in built], alpha) if built else []
    rows = []
    for (population, cell, agreement, vs_rest, cov_rest), flagged, cov_flag in zip(built, worse, cov_worse):
        assert population is not None
        rows.append(SegmentRow(
            segment=population[0], value=population[1], units=cell["cover"].n, baseline_requests=int(cell["cover"].sy),
            coverage=rate(cell["cover"], alpha, tuning_n), agreement=agreement,
            versus_overall=None if agreement.value is None or overall is None else agreement.value - overall,
            difference=vs_rest.effect, interval=vs_rest.interval, p_value=vs_rest.p_value,
            worse=flagged and (vs_rest.effect or 0.0) < 0, coverage_difference=cov_rest.effect,
            coverage_worse=cov_flag and (cov_rest.effect or 0.0) < 0,
            missing=int(cell["cover"].sy - cell["cover"].sx), late=rate(cell["late"], alpha, tuning_n),
            errored=rate(cell["cerr"], alpha, tuning_n)))
    rows.sort(key=lambda r: (math.inf if r.versus_overall is None else r.versus_overall, r.segment, str(r.value)))
    return rows


OTHER = "other"


def label_comparison(frame: Any, top: int = 8) -> LabelComparison:
    """The confusion table of paired labels (a polars frame baseline, candidate, n)."""
    import polars as pl

    base_totals = frame.group_by("baseline").agg(pl.col("n").sum())
    cand_totals = frame.group_by("candidate").agg(pl.col("n").sum())
    base_share = {str(k): int(v) for k, v in base_totals.iter_rows()}
    cand_share = {str(k): int(v) for k, v in cand_totals.iter_rows()}
    volume = {label: base_share.get(label, 0) + cand_share.get(label, 0) for label in {*base_share, *cand_share}}
    ranked = sorted(volume, key=lambda label: (-volume[label], label))
    labels = ranked[:top]
    index = {label: i for i, label in enumerate(labels)}
    size = len(labels) + (1 if len(ranked) > top else 0)
    table = [[0] * size for _ in range(size)]
    flips: dict[tuple[str, str], int] = {}
    for baseline, candidate, n in frame.iter_rows():
        b, c = str(baseline), str(candidate)
        table[index.get(b, size - 1)][index.get(c, size - 1)] += int(n)
        if b != c:
            flips[(b, c)] = flips.get((b, c), 0) + int(n)
    total_b, total_c = sum(base_share.values()) or 1, sum(cand_share.values()) or 1
    shares = tuple({"label": label, "baseline": base_share.get(label, 0) / total_b,
                    "candidate": cand_share.get(label, 0) / total_c,
                    "change": cand_share.get(label, 0) / total_c - base_share.get(label, 0) / total_b}
                   for label in labels)
    mcnemar = None
    if flips:
        (b, c), count = max(flips.items(), key=lambda item: (item[1], item[0]))
        mcnemar = mcnemar_p_value(count, flips.get((c, b), 0))
    return LabelComparison(
        labels=tuple(labels) + ((OTHER,) if size > len(labels) else ()), confusion=tuple(tuple(r) for r in table),
        gained=tuple(sorted(set(cand_share) - set(base_share))), lost=tuple(sorted(set(base_share) - set(cand_share))),
        shares=shares, mcnemar_p_value=mcnemar)


def binned_spearman(cells: Sequence[tuple[int, int, int]]) -> float | None:
    """Spearman's rank correlation of values known by bin: every value of a bin gets its mid-rank."""
    import numpy as np

    if not cells:
        return None
    data = np.array(cells, dtype=float)
    weights = data[:, 2]
    ranks = []
    for axis in (0, 1):
        bins = data[:, axis].astype(int)
        counts = np.bincount(bins, weights=weights)
        mid = np.cumsum(counts) - (counts - 1) / 2.0
        ranks.append(mid[bins])
    mean = [np.average(r, weights=weights) for r in ranks]
    cov = np.average((ranks[0] - mean[0]) * (ranks[1] - mean[1]), weights=weights)
    var = [np.average((r - m) ** 2, weights=weights) for r, m in zip(ranks, mean)]
    return float(cov / math.sqrt(var[0] * var[1])) if var[0] > 0 and var[1] > 0 else None
