"""Sums kept beside a kept table and moved by differences: a look reads what its new rows change.

Contract (docs/incremental.md, "Kept sums"):
- A `Summary` is an additive grouping of a kept table's rows: `select(rows)` (rows: a FROM item) gives
  one row per group — its key columns, then sums and counts only (`sum(E)`, `count(…)`), so the
  summary of a union is the sum of the summaries. `count` names a column that is 0 exactly when the
  group holds no row; a column `nn_X` beside a sum `X` counts the values `X` sums (NULL when none).
- `kept_name(table)` is the table holding `select(table)` in the cache, written in the same
  transactions as `table` (logcache/units.py): after rows of some units are replaced, it becomes
  kept + select(new rows) - select(old rows) (`combined`), groups left empty dropped.
- `combined(..., final=True)` is what a look reads: every `X` with an `nn_X` of 0 is NULL, as the sum
  over no value is; integers are exact, floating sums differ from a sum in one pass by rounding only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

_KEY = re.compile(r"^(arm|q|b|s\d+)$")  # the groups' keys: arm, a column's index, a value bin, segments s0, s1, …


@dataclass(frozen=True)
class Summary:
    """An additive grouping of a kept table (see the module contract)."""

    select: Callable[[str], str]  # rows (a FROM item) -> SELECT keys, sums … GROUP BY ALL
    count: str  # a column that is 0 exactly when a group holds no row


def kept_name(table: str) -> str:
    return f"{table}_sums"


def columns(con: duckdb.DuckDBPyConnection, summary: Summary, rows: str) -> tuple[list[str], list[str]]:
    """(key columns, summed columns) of `summary` over `rows` (any FROM item with the kept table's columns)."""
    described = [row[0] for row in con.execute(f"DESCRIBE {summary.select(rows)}").fetchall()]
    return [c for c in described if _KEY.match(c)], [c for c in described if not _KEY.match(c)]


def combined(con: duckdb.DuckDBPyConnection, summary: Summary, *, kept: str | None, plus: str | None = None,
             minus: str | None = None, final: bool = False) -> str:
    """A SELECT of `kept` (a table of sums) + select(`plus`) - select(`minus`) (FROM items of rows), by
    group, empty groups left out; `final`: sums without a value are NULL (see the module contract)."""
    source = plus or minus
    if source is None:
        assert kept is not None
        described = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {kept}").fetchall()]
        keys, values = [c for c in described if _KEY.match(c)], [c for c in described if not _KEY.match(c)]
    else:
        keys, values = columns(con, summary, source)
    parts = [] if kept is None else [f"SELECT * FROM {kept}"]
    if plus is not None:
        parts.append(summary.select(plus))
    if minus is not None:
        negated = ", ".join(f"-{_q(c)} AS {_q(c)}" for c in values)
        parts.append(f"SELECT {', '.join(map(_q, keys))}, {negated} FROM ({summary.select(minus)})")
    outer = []
    for c in values:
        total = f"sum({_q(c)})"
        if final and f"nn_{c}" in values:
            total = f"CASE WHEN sum({_q('nn_' + c)}) > 0 THEN {total} END"
        outer.append(f"{total} AS {_q(c)}")
    union = " UNION ALL BY NAME ".join(f"({p})" for p in parts)
    group = f"GROUP BY {', '.join(map(_q, keys))}" if keys else ""
    return (f"SELECT {', '.join([*map(_q, keys), *outer])} FROM ({union}) {group} "
            f"HAVING sum({_q(summary.count)}) <> 0")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
