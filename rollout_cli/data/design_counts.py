"""The per-unit counts behind a quantile's design effect, read in the stage statement's one pass
(docs/statistics.md, section 6).

The relative quantile guard widens its standard error by the design effect of the indicator "answer <= the
quantile" (stats.quantile.design_effect), which needs, per unit, its answers of each arm (y) and
those at or below the arm's estimated quantile (x). The thresholds are those
quantiles of the very answers the stage statement reads: the light scan before it computes them
(data/scans.window_facts), a `DesignCounts` carries them in as parameters, and the per-unit
relation counts against them in the pass it makes anyway; the sums ride along the per
arm × segment roll-up (data/rollup.py). The counts are the ones a separate grouped scan of the
answers gives (tests/evaluate/test_quantile_clusters.py), for the whole population; a per-segment
guard's segment values are still read by data/scans.py.

A unit's answers of an arm are counted whatever its own (first) arm, and summed over all units:
the whole population's rows of both arms are added up when read (`read_indicator_sums`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rollout_cli.data.aggregates import DesignCounts, IndicatorSums
from rollout_cli.data.source import SqlParams

ARMS = (("baseline", "b"), ("candidate", "c"))


# A unit's counts are packed into one BIGINT sum, FIELD_BITS bits a count: its candidate answers (y of
# the candidate), its baseline answers at or below the baseline's threshold (x of the baseline) and its
# candidate answers at or below the candidate's (x of the candidate); the baseline's y is the unit's
# answers with a value (`d{i}_all`, a count the statement makes anyway) less the candidate's, as every
# answer the statement reads is of one arm or the other. One aggregate state and one expression a row,
# where a packed sum per arm took two of each: ~0.15 s less CPU in the main statement at 2M units
# (benchmarks/README.md; what a per-unit hash aggregate pays for is its expressions and payload). A field cannot carry into the next while every unit has fewer than
# 2^FIELD_BITS values; the statement returns a bound on that count (`d{i}_most`) and
# `read_indicator_sums` gives up (the caller scans instead) when it is reached.
FIELD_BITS = 21
FIELD = 1 << FIELD_BITS


def unit_counts(design: list[DesignCounts], columns: Mapping[str, str], params: SqlParams,
                is_arm: Callable[[str], str]) -> str:
    """Per-unit aggregates (`, … AS d{i}, count(…) AS d{i}_all`): the packed counts at each arm's
    threshold; `is_arm("candidate")` is the row condition of a candidate answer (any other is the baseline's)."""
    parts = []
    for i, q in enumerate(design):
        c = columns[q.column]
        thresholds = dict(q.thresholds)
        if any(len(thresholds[arm]) != 1 for arm, _ in ARMS):
            raise ValueError("the packed counts take one threshold per arm")
        below = {arm: f"CAST(coalesce({c} <= {params.add(thresholds[arm][0])}, false) AS BIGINT)" for arm, _ in ARMS}
        candidate = f"CAST({c} IS NOT NULL AS BIGINT) + {below['candidate']} * {FIELD * FIELD}"
        # TRY_CAST: the sum is a HUGEINT, slow to unpack; past BIGINT it is NULL (and the bound says so)
        parts.append(f"TRY_CAST(sum(CASE WHEN {is_arm('candidate')} THEN {candidate} "
                     f"ELSE {below['baseline']} * {FIELD} END) AS BIGINT) AS d{i}")
        parts.append(f"count({c}) AS d{i}_all")
    return "".join(", " + p for p in parts)


def _unpacked(i: int, a: str) -> tuple[str, str]:
    """(y, x) of arm `a` ("b" or "c") from a unit's packed counts."""
    packed = f"d{i}"
    if a == "c":
        return f"({packed} % {FIELD})", f"({packed} // {FIELD * FIELD})"
    return f"(d{i}_all - {packed} % {FIELD})", f"(({packed} // {FIELD}) % {FIELD})"


def rolled_stats(design: list[DesignCounts]) -> list[tuple[str, str]]:
    """(expression over per-unit rows, alias) of the sums `read_indicator_sums` takes."""
    out = []
    for i, _ in enumerate(design):
        out.append((f"max(d{i}_all)", f"d{i}_most"))  # rolled up as a sum of maxima: a bound on the max
        for _, a in ARMS:
            y, x = _unpacked(i, a)
            out += [(f"count(*) FILTER (WHERE {y} > 0)", f"d{i}{a}_n"), (f"sum({y})", f"d{i}{a}_s"),
                    (f"sum({y} * {y})", f"d{i}{a}_ss"), (f"sum({x})", f"d{i}{a}_x0_s"),
                    (f"sum({x} * {x})", f"d{i}{a}_x0_ss"), (f"sum({x} * {y})", f"d{i}{a}_x0_sy")]
    return out


def read_indicator_sums(everyone: list[dict[str, Any]], design: list[DesignCounts]
                        ) -> dict[tuple[str, str], IndicatorSums]:
    """(quantile key, arm) -> its sums, added up over the whole population's `units` rows (one per
    first arm: every unit is in exactly one of them). A quantile whose packed counts may have
    overflowed (a unit with 2^FIELD_BITS values or more) is left out: the caller scans for it."""
    def total(alias: str) -> int:
        return sum(row.get(alias) or 0 for row in everyone)  # integers: exact

    out = {}
    for i, q in enumerate(design):
        if total(f"d{i}_most") >= FIELD:
            continue
        for arm, a in ARMS:
            below = ((float(total(f"d{i}{a}_x0_s")), float(total(f"d{i}{a}_x0_ss")), float(total(f"d{i}{a}_x0_sy"))),)
            out[(q.key, arm)] = IndicatorSums(total(f"d{i}{a}_n"), float(total(f"d{i}{a}_s")),
                                              float(total(f"d{i}{a}_ss")), below)
    return out
