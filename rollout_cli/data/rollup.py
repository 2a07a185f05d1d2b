"""Per-unit relation -> sums per arm × segment: the second half of every stage statement.

Contract:
- `unit_sums(measures, levels)` lists the sufficient statistics (Σx, Σx², Σx³ for outcome sums;
  Σy, Σy², Σxy for ratios) of the measures at `levels`, as expressions over one row per unit whose
  columns are named m{i}_x / m{i}_y (i: the measure's index).
- `rolled_up(part, source, stats, n_segments)` aggregates any such per-unit relation (a CTE of the
  stage statement, or a table of per-unit rows) into one row per arm and grouping set: the whole
  population, and each segment column s0, s1, …; `read_rows` turns the statement's rows into
  `Aggregates`.
- The statistics are sums, so the per-unit rows are aggregated once per (arm, every segment) and
  the grouping sets are taken over those few cells: exact, and the big input is read once.
"""

from __future__ import annotations

from typing import Any

from rollout_cli.data.aggregates import Aggregates, DesignCounts, Measure, Population, QuantileSpec, Sums
from rollout_cli.data.design_counts import read_indicator_sums
from rollout_cli.data.finite import read_value_counts
from rollout_cli.data.segment_codes import SegmentCodes


def grouping_sets(prefix: str, n_segments: int) -> str:
    sets = [f"({prefix})"] + [f"({prefix}{', ' if prefix else ''}s{i})" for i in range(n_segments)]
    return ", ".join(sets)


def grouping_columns(n_segments: int) -> str:
    return "".join(f", GROUPING(s{i}) AS g{i}, s{i}" for i in range(n_segments))


def unit_sums(measures: list[Measure], levels: tuple[str, ...]) -> list[tuple[str, str]]:
    """(expression over per-unit rows, alias) of every sufficient statistic of the measures at `levels`."""
    out = []
    for i, m in enumerate(measures):
        if m.level not in levels:
            continue
        out += [(f"sum(m{i}_x)", f"m{i}_sx"), (f"sum(m{i}_x * m{i}_x)", f"m{i}_sxx")]
        if m.op == "event_sum":
            out.append((f"sum(m{i}_x * m{i}_x * m{i}_x)", f"m{i}_sxxx"))
        if m.level in ("request", "pairs"):
            out += [(f"sum(m{i}_y)", f"m{i}_sy"), (f"sum(m{i}_y * m{i}_y)", f"m{i}_syy"),
                    (f"sum(m{i}_x * m{i}_y)", f"m{i}_sxy")]
    return out


def cell_sums(source: str, stats: list[tuple[str, str]], n_segments: int, *, arm: str = "arm",
              first: str | None = None, counted: bool = False, codes: SegmentCodes | None = None) -> str:
    """Per-unit rows -> one row per (arm, every segment) cell with each statistic's sum. The per-unit
    rows carry `arm`, s0, s1, … — or, with `first`, a struct column of that name with the first
    answer's `cand` flag and s0, s1, … — or, with `codes` too, `first` is their integer code, grouped
    on and decoded cell by cell (data/segment_codes.py). `counted`: beside each `sum(E)`, `nn_ALIAS` =
    count(E), so that cells kept and updated by differences (docs/incremental.md) say NULL where a sum
    has no value."""
    if codes is not None:  # never with `counted`: kept per-unit rows carry values (data/queries.py)
        inner = ", ".join(f"{expr} AS {alias}" for expr, alias in stats)
        return (f"SELECT {codes.decoded('code_')}, {', '.join(alias for _, alias in stats)} "
                f"FROM (SELECT {first} AS code_, {inner} FROM {source} GROUP BY code_)")
    segs = "".join(f", s{i}" for i in range(n_segments))
    if first is not None:
        arm = f"CASE WHEN {first}.cand THEN 'candidate' ELSE 'baseline' END"
        segs = "".join(f", {first}.s{i} AS s{i}" for i in range(n_segments))
    inner = ", ".join(f"{expr} AS {alias}" for expr, alias in stats)
    if counted:
        inner += "".join(f", count{expr[3:]} AS nn_{alias}" for expr, alias in stats if expr.startswith("sum("))
    return f"SELECT {arm} AS arm{segs}, {inner} FROM {source} GROUP BY ALL"


def rolled_up(part: str, source: str, stats: list[tuple[str, str]], n_segments: int, *, arm: str = "arm",
              first: str | None = None, summed: bool = False, codes: SegmentCodes | None = None) -> str:
    """Per-unit rows -> sums per (arm, every segment) in one hash aggregate (`cell_sums`), then the
    grouping sets over those few cells: the statistics are sums, so rolling them up is exact and the
    big input is aggregated once instead of once per grouping set. `summed`: `source` holds the
    cells already (the evaluation cache keeps them, docs/incremental.md)."""
    outer = ", ".join(f"sum({alias}) AS {alias}" for _, alias in stats)
    cells = source if summed else f"({cell_sums(source, stats, n_segments, arm=arm, first=first, codes=codes)})"
    return (f"SELECT '{part}' AS part, arm{grouping_columns(n_segments)}, {outer}\n"
            f"FROM {cells}\n"
            f"GROUP BY GROUPING SETS ({grouping_sets('arm', n_segments)})")


def read_rows(rows: list[tuple[Any, ...]], names: list[str], *, segments: list[str], measures: list[Measure],
              quantiles: list[QuantileSpec], numeric_names: list[str], design: list[DesignCounts]) -> Aggregates:
    """The stage statement's rows (parts `units`, `pairs`, `quantiles`) by population and arm.
    `numeric_names`: the plan's names of the numeric columns whose NaN/infinite values were counted."""
    outcome_events = {i: str(m.event) for i, m in enumerate(measures) if m.op == "event_sum"}
    result = Aggregates()
    everyone: list[dict[str, Any]] = []  # the whole population's `units` rows (design counts)
    for raw in rows:
        row = dict(zip(names, raw))
        if row["part"] == "outcome_rows":  # data/outcome_join.py `counts_outcome_rows`
            result.outcome_rows = (int(row["n"] or 0), int(row["n"] or 0) - int(row["kept"] or 0))
            continue
        population: Population = None
        for i, segment in enumerate(segments):
            if row.get(f"g{i}") == 0:
                population = (segment, row[f"s{i}"])
        cell = result.cell(population, row["arm"])
        if row["part"] == "quantiles":
            _read_quantiles(cell, row, quantiles)
            continue
        if row["part"] == "pairs" and population is None:
            result.baseline_requests = int(row["base_requests"] or 0)
            result.paired_requests = int(row["paired"] or 0)
        if row["part"] == "units":
            cell.units = int(row["n"] or 0)
            cell.value_counts = read_value_counts(row, numeric_names, outcome_events)
            cell.outcome_values = {measures[i].key: int(row[f"ov{i}"] or 0) + int(row[f"ovn{i}"] or 0)
                                   for i in outcome_events if f"ov{i}" in row}
            cell.crossed = int(row["crossed"] or 0)
            if population is None:
                everyone.append(row)
        level = "pairs" if row["part"] == "pairs" else None
        n = int(row["n"] or 0)
        for i, m in enumerate(measures):
            if (m.level == "pairs") != (level == "pairs") or f"m{i}_sx" not in row or row[f"m{i}_sx"] is None:
                continue
            sx, sxx = float(row[f"m{i}_sx"]), float(row[f"m{i}_sxx"])
            if m.level == "outcome":  # one value per unit: y = 1
                cube = row.get(f"m{i}_sxxx")
                cell.sums[m.key] = Sums(n, sx, float(n), sxx, float(n), sx, None if cube is None else float(cube))
            else:
                cell.sums[m.key] = Sums(n, sx, float(row[f"m{i}_sy"]), sxx, float(row[f"m{i}_syy"]),
                                        float(row[f"m{i}_sxy"]))
    for (key, arm), sums in read_indicator_sums(everyone, design).items():
        if sums.requests > 0:
            result.cell(None, arm).quantile_indicators[key] = sums
    return result


def _read_quantiles(cell: Any, row: dict[str, Any], quantiles: list[QuantileSpec]) -> None:
    for i, q in enumerate(quantiles):
        value = row.get(f"q{i}")
        if q.levels:  # [q, *levels]
            values = list(value) if value is not None else [None] * (1 + len(q.levels))
            value = values[0]
            cell.quantile_levels[q.key] = {level: None if v is None else float(v)
                                           for level, v in zip(q.levels, values[1:])}
        cell.quantiles[q.key] = float(value) if value is not None else None
        cell.quantile_n[q.key] = int(row.get(f"qn{i}") or 0)
