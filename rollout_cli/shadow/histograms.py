"""Quantiles from log-spaced histograms, collected by a GROUP BY instead of sorting every value.

Contract (docs/statistics.md, "Shadow comparison: quantiles from histograms"):
- `bin_sql(expr, step)`: the SQL of a value's bin: 0 for |x| < `TINY`, else
  sign(x) · (1 + floor(ln(|x| / TINY) / ln(step))). Bin i > 0 holds (TINY·step^(i-1), TINY·step^i],
  bin -i the same range negated, so bin numbers rise with the values (a relative-accuracy sketch
  in the manner of DDSketch, Masson, Rim & Lee 2019).
- `bin_value(i, step)`: the value that stands for bin i: the midpoint 2 / (1 + step) · TINY·step^i,
  within (step - 1) / (step + 1) of every value in the bin, relatively (0.1% for SCORE_STEP, 0.5%
  for LATENCY_STEP), and within TINY absolutely for bin 0.
- `quantiles(counts, levels, low, high)`: each level's quantile as the value of the bin holding
  the order statistic at rank q · (n - 1) (the rank `quantile_cont` interpolates at), clamped to the
  exact [low, high] when given; None without values.
SQL fragments are fixed text: only the column expression is inserted (a checked, quoted name).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

TINY = 1e-9
SCORE_STEP = 1.002  # scores and their differences: 0.1% relative error
LATENCY_STEP = 1.01  # latency, per minute: 0.5% relative error (descriptive figures)


def relative_error(step: float) -> float:
    return (step - 1.0) / (step + 1.0)


def bin_sql(expr: str, step: float) -> str:
    return (f"CASE WHEN abs({expr}) < {TINY!r} THEN 0 ELSE CAST(sign({expr}) * (1 + floor(ln(abs({expr}) / {TINY!r})"
            f" / {math.log(step)!r})) AS BIGINT) END")


def bin_value(i: int, step: float) -> float:
    if i == 0:
        return 0.0
    return math.copysign(TINY * step ** abs(i) * 2.0 / (1.0 + step), i)


def quantiles(counts: Mapping[int, int] | Iterable[tuple[int, int]], levels: Sequence[float], step: float,
              low: float | None = None, high: float | None = None) -> list[float | None]:
    pairs = sorted((int(b), int(n)) for b, n in (counts.items() if isinstance(counts, Mapping) else counts) if n)
    total = sum(n for _, n in pairs)
    if not total:
        return [None for _ in levels]
    out: list[float | None] = []
    for q in levels:
        rank = q * (total - 1)  # 0-based rank of the order statistic
        seen = 0
        value = bin_value(pairs[-1][0], step)
        for b, n in pairs:
            seen += n
            if seen > rank:
                value = bin_value(b, step)
                break
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
        out.append(value)
    return out
