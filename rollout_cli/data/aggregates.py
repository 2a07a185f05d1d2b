"""What the stage statement computes, as typed values: measures in, sums per arm and population out.

Contract:
- A `Measure` says what is summed per unit; a `QuantileSpec` which quantile (and which more levels)
  of a column is read per arm. `Aggregates` holds, for every population (None for everyone, or a
  (segment column, value) pair) and each arm, an `ArmCell`: the unit count and the sufficient
  statistics n, Σx, Σy, Σx², Σy², Σxy of every measure, plus observed quantiles.
- A unit-level measure (an outcome count or sum per unit) has y = 1 for every unit, so every
  measure is a ratio Σx/Σy over units and one delta-method formula serves them all.
- `DesignCounts` asks the stage statement for the per-unit counts behind a quantile's design
  effect; `IndicatorSums` are those counts summed over units — what `stats.quantile.design_effect`
  takes — for the whole population (data/design_counts.py; data/scans.py for segment values).
The statements that fill these are data/queries.py (per-unit relation -> per arm × segment sums).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

MeasureOp = Literal["event_any", "event_sum", "column_mean", "column_above", "column_below", "agreement"]
Population = tuple[str, Any] | None  # (segment column, value), or None for everyone


@dataclass(frozen=True)
class Measure:
    key: str
    op: MeasureOp
    column: str | None = None  # prediction-log column (column_* ops)
    event: str | None = None  # outcome event (event_* ops)
    window_s: float | None = None  # outcome window after the last served answer; None: up to `until`
    threshold: float | None = None  # column_above / column_below
    tolerance: float | None = None  # agreement
    cap: float | None = None  # event_sum / column_mean: values capped at this (winsorised)
    metric: str = ""  # the plan's metric name, for messages

    @property
    def level(self) -> str:
        return {"event_any": "outcome", "event_sum": "outcome", "agreement": "pairs"}.get(self.op, "request")


@dataclass(frozen=True)
class QuantileSpec:
    key: str
    column: str
    q: float
    levels: tuple[float, ...] = ()  # more levels to read in the same aggregate (confidence bounds)


@dataclass(frozen=True)
class DesignCounts:
    """Per-unit counts of a quantile column's answers of each arm at or below that arm's thresholds
    (its estimate over everyone): what the design effect takes
    (data/design_counts.py)."""

    key: str  # the metric
    column: str
    thresholds: tuple[tuple[str, tuple[float | None, ...]], ...]  # (arm, (estimate,)) per arm


@dataclass(frozen=True)
class Sums:
    n: int
    sum_x: float
    sum_y: float
    sum_xx: float
    sum_yy: float
    sum_xy: float
    sum_xxx: float | None = None  # event_sum: the sum of cubes (skewness, minimum-information rule)


@dataclass(frozen=True)
class IndicatorSums:
    """Over units with an answer: n, Σy, Σy² (answers per unit) and, per threshold, Σx, Σx², Σxy
    (x = a unit's answers at or below it) — the sums stats.quantile.design_effect takes."""

    units: int
    requests: float
    requests_sq: float
    below: tuple[tuple[float, float, float], ...]


@dataclass
class ArmCell:
    units: int = 0
    crossed: int = 0
    sums: dict[str, Sums] = field(default_factory=dict)
    quantiles: dict[str, float | None] = field(default_factory=dict)
    quantile_n: dict[str, int] = field(default_factory=dict)  # observations behind each quantile
    quantile_levels: dict[str, dict[float, float | None]] = field(default_factory=dict)  # level -> value
    quantile_design: dict[str, float] = field(default_factory=dict)  # design effect (stats.quantile)
    # the per-unit indicator sums of a quantile's design effect, when the stage statement read them
    quantile_indicators: dict[str, IndicatorSums] = field(default_factory=dict)
    # values that are NaN or infinite, left out of every statistic: "column latency_ms" or
    # "value of purchase outcomes" -> (non-finite, finite) counts
    value_counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    # event_sum measure -> the outcome events with a value (finite or not) joined to the arm's units:
    # how the evaluator tells "no events" from "events worth 0" (evaluation/stage_reads.py `silent_outcomes`)
    outcome_values: dict[str, int] = field(default_factory=dict)


@dataclass
class Aggregates:
    cells: dict[Population, dict[str, ArmCell]] = field(default_factory=dict)
    baseline_requests: int = 0  # shadow: served baseline answers
    paired_requests: int = 0  # shadow: of those, with a candidate answer
    # the window's rows of the outcome events and those repeating another exactly, when the stage
    # statement counted them on the way to its outcome join (data/outcome_join.py `counts_outcome_rows`)
    outcome_rows: tuple[int, int] | None = None

    def cell(self, population: Population, arm: str) -> ArmCell:
        return self.cells.setdefault(population, {}).setdefault(arm, ArmCell())
