"""A traffic unit's first answer — its arm and segment values — as one integer, for the per-unit aggregate.

Contract:
- `read_codes(logs, segments, params)` lists each segment column's distinct values in the log (one
  light statement) and returns
  `SegmentCodes`, or None where the struct of the first answer's values is kept instead: a
  segment column that is not text, another engine than DuckDB (the Spark rendering has no
  `error()`), or more values than `MOST_VALUES`.
- `SegmentCodes.coded(source)` adds `code_` to a relation holding `cand`, s0, s1, …: the arm's bit
  plus each value's position (1-based in the sorted values, 0 for NULL) in mixed radix. The
  positions come from hash joins with the values (a probe per answer, whatever the number of
  values), passed as parameters: user strings never enter the SQL text.
- `SegmentCodes.decoded(code)` turns a code back into `arm`, s0, s1, … over the few cells of the
  roll-up. A value missing from the list (the logs changed between the two statements) is an SQL
  error carrying `STRAY`; the caller then computes the struct way (`stage_aggregates`).
Why: `arg_min` over one BIGINT instead of a struct of strings costs about a quarter less of the
per-unit aggregate, the largest of an evaluation (benchmarks/README.md, "`rollout evaluate`").
"""

from __future__ import annotations

from dataclasses import dataclass

from rollout_cli.data.source import Logs, SqlParams

MOST_VALUES = 100_000  # per column; the product of all columns' sizes must fit in 62 bits as well
STRAY = "segment value not listed"


@dataclass(frozen=True)
class SegmentCodes:
    lists: tuple[str, ...]  # each column's sorted values, as a parameter placeholder
    sizes: tuple[int, ...]

    def _radix(self) -> list[tuple[int, int]]:
        """(multiplier, base) per column: base = values + 2 (0 for NULL, size + 1 for a value not listed)."""
        out, multiplier = [], 2
        for size in self.sizes:
            out.append((multiplier, size + 2))
            multiplier *= size + 2
        return out

    def coded(self, source: str) -> str:
        """`source` (a relation with cand, s0, s1, …) with its code as `code_`, as a SELECT."""
        joins, terms = [], ["CAST(cand AS BIGINT)"]
        for i, (values, size, (multiplier, _)) in enumerate(zip(self.lists, self.sizes, self._radix())):
            joins.append(f" LEFT JOIN (SELECT unnest({values}) AS v, generate_subscripts({values}, 1) AS c) k{i}"
                         f" ON k{i}.v = r_.s{i}")
            terms.append(f"{multiplier} * CASE WHEN r_.s{i} IS NULL THEN 0 ELSE coalesce(k{i}.c, {size + 1}) END")
        return f"SELECT r_.*, {' + '.join(terms)} AS code_ FROM {source} r_{''.join(joins)}"

    def decoded(self, code: str) -> str:
        """`arm`, s0, s1, … of `code` (select-list items)."""
        items = [f"CASE WHEN {code} % 2 = 1 THEN 'candidate' ELSE 'baseline' END AS arm"]
        for i, (values, size, (multiplier, base)) in enumerate(zip(self.lists, self.sizes, self._radix())):
            position = f"({code} // {multiplier}) % {base}"
            items.append(f"CASE WHEN {position} = {size + 1} THEN error('{STRAY}') "
                         f"ELSE list_extract({values}, {position}) END AS s{i}")
        return ", ".join(items)


def read_codes(logs: Logs, segments: list[str], params: SqlParams) -> SegmentCodes | None:
    """The values of the plan's `segments` as codes (see the module contract), their lists added to
    `params`, the stage statement's. Every value in the log, not just the window's: a superset codes the
    same, and reading two dictionary-encoded columns costs a tenth of filtering them by the window."""
    preds = logs.predictions
    quoted = [preds.column("segment", "any", column=s) for s in segments]  # a missing column: DataError
    if not segments or logs.engine_name != "duckdb" or any(preds.columns[s].upper() != "VARCHAR" for s in segments):
        return None
    own = SqlParams()
    lists = ", ".join(f"list(DISTINCT {q}) FILTER (WHERE {q} IS NOT NULL)" for q in quoted)
    values = [sorted(v or []) for v in logs.query(f"SELECT {lists} FROM {preds.from_item(own)}", own)[0]]
    sizes = [len(v) for v in values]
    product = 2
    for size in sizes:
        product *= size + 2
    if max(sizes) > MOST_VALUES or product >= 2 ** 62:
        return None
    return SegmentCodes(tuple(params.add(v) for v in values), tuple(sizes))
