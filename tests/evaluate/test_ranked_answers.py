"""The ranked answers the evaluation cache keeps (logcache/answers.py) give exactly the design sums
and quantiles the scans over the answers give (data/scans.py): integers equal, quantiles to the
last bits of the interpolation."""

from __future__ import annotations

import math
from pathlib import Path

from evaluate_helpers import simulate, write_plan

from rollout_cli.data.scans import IndicatorRequest, LevelRequest, indicator_sums, quantiles_at_levels
from rollout_cli.data.source import SqlParams, open_logs
from rollout_cli.logcache.answers import TOTALS, Ranked, ranked_answers

LEVELS = (0.0, 0.001, 0.25, 0.5, 0.9, 0.97, 0.985, 0.99, 0.9953, 1.0)
TAIL = (0.97, 0.985, 0.99, 0.9953, 1.0)


def test_ranked_answers_match_the_scans(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    simulated = simulate(plan, tmp_path, seed=3, units=3000)
    until = simulated.end
    with open_logs(plan.data) as logs:
        params = SqlParams()
        build = ranked_answers(["latency_ms"], None, until)
        logs.connection.execute(f"CREATE TEMP TABLE ranked AS {build(logs, params, logs.predictions.column('unit_id', 'any'))}",
                                params.values)
        logs.connection.execute(f"CREATE TEMP TABLE ranked_sums AS {TOTALS.select('ranked')}")
        for wanted_levels in (LEVELS, TAIL):
            levels = [LevelRequest(None, arm, "latency_p99", "latency_ms", wanted_levels) for arm in ("baseline", "candidate")]
            expected = quantiles_at_levels(logs, shadow=False, segments=[], requests=levels, since=None, until=until)
            asked = [(r.arm, r.column, r.levels) for r in levels]
            reader = Ranked(logs, ("ranked", None, None), "ranked_sums", ["latency_ms"])
            found = reader.quantiles(asked)
            for (n, values), wanted in zip(found, expected, strict=True):
                assert n > 1000
                assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(values, wanted, strict=True)), (values, wanted)  # type: ignore[arg-type]
        assert logs.connection.execute("SELECT count(DISTINCT b) FROM ranked_sums").fetchall()[0][0] > 100  # fine bins
        wanted = expected[0] + expected[1]
        # thresholds at answers' own values (ties) and between them, low and high
        thresholds = [(wanted[3], wanted[7]), (wanted[7] + 1e-9, wanted[0]), (wanted[8], wanted[9])]  # type: ignore[operator]
        reader = Ranked(logs, ("ranked", None, None), "ranked_sums", ["latency_ms"])
        requests = [IndicatorRequest(None, arm, "latency_p99", "latency_ms", t)  # type: ignore[arg-type]
                    for arm, t in zip(("baseline", "candidate", "baseline"), thresholds)]
        assert reader.sums(requests) == indicator_sums(
            logs, shadow=False, segments=[], requests=requests, since=None, until=until)


def test_a_looks_own_rows_replace_the_touched_units_kept_rows(tmp_path: Path) -> None:
    """With rows of its own (the units of files not absorbed yet), a look leaves out the kept rows of
    the touched units — here spoiled, so any one read through would show — and its sums move by
    differences: the reads equal those over the rows as they are."""
    from rollout_cli.logcache.sums import combined

    plan = write_plan(tmp_path)
    simulated = simulate(plan, tmp_path, seed=5, units=2000)
    with open_logs(plan.data) as logs:
        con, params = logs.connection, SqlParams()
        build = ranked_answers(["latency_ms"], None, simulated.end)
        con.execute(f"CREATE TEMP TABLE ranked AS {build(logs, params, logs.predictions.column('unit_id', 'any'))}",
                    params.values)
        con.execute("CREATE TEMP TABLE touched AS SELECT DISTINCT unit FROM ranked WHERE hash(unit) % 5 = 0")
        con.execute("CREATE TEMP TABLE look AS SELECT * FROM ranked SEMI JOIN touched USING (unit)")
        con.execute("CREATE TEMP TABLE spoiled AS SELECT * REPLACE (CASE WHEN unit IN (SELECT unit FROM touched) "
                    "THEN v * 1000 + 1e6 ELSE v END AS v, CASE WHEN unit IN (SELECT unit FROM touched) THEN y + 3 "
                    "ELSE y END AS y) FROM ranked")
        con.execute("CREATE TEMP TABLE gone AS SELECT * FROM spoiled SEMI JOIN touched USING (unit)")
        con.execute(f"CREATE TEMP TABLE ranked_sums AS {TOTALS.select('ranked')}")
        con.execute(f"CREATE TEMP TABLE spoiled_sums AS {TOTALS.select('spoiled')}")
        moved = combined(con, TOTALS, kept="spoiled_sums", plus="look",
                         minus="gone", final=True)
        con.execute(f"CREATE TEMP TABLE moved AS {moved}")
        whole = Ranked(logs, ("ranked", None, None), "ranked_sums", ["latency_ms"])
        parts = Ranked(logs, ("spoiled", "gone", "look"), "moved", ["latency_ms"])
        assert parts.totals() == whole.totals()
        for levels in (LEVELS, TAIL):
            asked = [(arm, "latency_ms", levels) for arm in ("baseline", "candidate")]
            expected = whole.quantiles(asked)
            assert parts.quantiles(asked) == expected
        threshold = expected[0][1][2]  # the p99
        requests = [IndicatorRequest(None, arm, "latency_p99", "latency_ms", (threshold, 0.0))  # type: ignore[arg-type]
                    for arm in ("baseline", "candidate")]
        assert parts.sums(requests) == whole.sums(requests)


def test_value_bins_give_exact_order_statistics_of_any_values(tmp_path: Path) -> None:
    """Negative values, zeros, many ties, tiny and huge magnitudes: the order statistics read bin by bin
    are `quantile_cont`'s, at every level."""
    plan = write_plan(tmp_path)
    simulate(plan, tmp_path, seed=7, units=200)
    with open_logs(plan.data) as logs:
        con = logs.connection
        con.execute("""CREATE TEMP TABLE ranked AS SELECT 'u' || (i % 97) AS unit, CASE WHEN i % 3 = 0 THEN 'baseline'
                       ELSE 'candidate' END AS arm, 0 AS q, CASE i % 7 WHEN 0 THEN 0.0 WHEN 1 THEN -1e-9 * i
                       WHEN 2 THEN 1e12 + i WHEN 3 THEN round(i / 1000.0) ELSE (i % 41) * -17.5 END AS v,
                       1 AS y, 1 AS k FROM range(20000) t(i)""")
        con.execute(f"CREATE TEMP TABLE ranked_sums AS {TOTALS.select('ranked')}")
        levels = (0.0, 1e-4, 0.1, 0.3333, 0.5, 0.77, 0.97, 0.9999, 1.0)
        reader = Ranked(logs, ("ranked", None, None), "ranked_sums", ["v"])
        found = reader.quantiles([(arm, "v", levels) for arm in ("baseline", "candidate")])
        for arm, (n, values) in zip(("baseline", "candidate"), found, strict=True):
            expected = con.execute("SELECT count(*), quantile_cont(v, ?) FROM ranked WHERE arm = ?",
                                   [list(levels), arm]).fetchall()[0]
            assert n == expected[0]
            assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15) for a, b in zip(values, expected[1], strict=True))  # type: ignore[arg-type]
