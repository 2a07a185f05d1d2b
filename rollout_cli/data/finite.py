"""Values that are NaN or infinite: kept out of every statistic, and counted (docs/statistics.md §11).

A NaN or an infinity (a division by zero upstream, a sentinel) would turn every sum it enters
into NaN and keep a check inconclusive forever, hiding whatever else the data say. The stage
statements null such values where they are read (`finite_or_null`), count them per unit, and
roll the counts up with the other sums (`value_stats`); `read_value_counts` files them on the
arm's cell by what they are values of.
"""

from __future__ import annotations

from typing import Any


def finite_or_null(column: str) -> str:
    """SQL: a numeric column's value when finite, else NULL."""
    return f"CASE WHEN isfinite(CAST({column} AS DOUBLE)) THEN {column} END"


def checked_select(numeric: list[str]) -> str:
    """Row level: each quoted numeric column with NaN and infinities nulled, and flagged nfJ."""
    return "".join(f", {finite_or_null(c)} AS {c}, coalesce(NOT isfinite(CAST({c} AS DOUBLE)), false) AS nf{j}"
                   for j, c in enumerate(numeric))


def unit_value_counts(numeric: list[str]) -> str:
    """Unit level: each numeric column's non-finite (nfJ) and finite (nvJ) values."""
    return "".join(f", count(*) FILTER (WHERE nf{j}) AS nf{j}, count({c}) AS nv{j}" for j, c in enumerate(numeric))


def value_stats(numeric_columns: int, outcome_values: list[int]) -> list[tuple[str, str]]:
    """Rolled-up sums of the value counts: columns (nfJ, nvJ), then outcome values (ovI, ovnI)."""
    out = [(f"sum(nf{j})", f"nf{j}") for j in range(numeric_columns)]
    out += [(f"sum(nv{j})", f"nv{j}") for j in range(numeric_columns)]
    out += [(f"sum(ov{i})", f"ov{i}") for i in outcome_values]
    return out + [(f"sum(ovn{i})", f"ovn{i}") for i in outcome_values]


def read_value_counts(row: dict[str, Any], numeric_names: list[str], outcome_events: dict[int, str]
                      ) -> dict[str, tuple[int, int]]:
    """(non-finite, finite) counts of a units row: "column NAME" per numeric column (in the
    statement's order), "value of EVENT outcomes" per outcome-value measure (by its index)."""
    counts = {}
    for j, name in enumerate(numeric_names):
        if f"nf{j}" in row:
            counts[f"column {name}"] = (int(row[f"nf{j}"] or 0), int(row[f"nv{j}"] or 0))
    for i, event in outcome_events.items():
        if f"ov{i}" in row:
            counts[f"value of {event} outcomes"] = (int(row[f"ov{i}"] or 0), int(row[f"ovn{i}"] or 0))
    return counts
