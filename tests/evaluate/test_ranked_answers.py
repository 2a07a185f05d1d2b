"""The ranked answers the evaluation cache keeps (logcache/answers.py) give exactly the design sums
and quantiles the scans over the answers give (data/scans.py): integers equal, quantiles to the
last bits of the interpolation."""

from __future__ import annotations

import math
from pathlib import Path

from evaluate_helpers import simulate, write_plan

from rollout_cli.data.scans import IndicatorRequest, LevelRequest, indicator_sums, quantiles_at_levels
from rollout_cli.data.source import SqlParams, open_logs
from rollout_cli.logcache.answers import Ranked, ranked_answers

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
        logs.connection.execute("ATTACH ':memory:' AS rollout_cache")  # where the fences are kept
        for wanted_levels in (LEVELS, TAIL):  # low levels by selection; upper ones from the largest values
            levels = [LevelRequest(None, arm, "latency_p99", "latency_ms", wanted_levels) for arm in ("baseline", "candidate")]
            expected = quantiles_at_levels(logs, shadow=False, segments=[], requests=levels, since=None, until=until)
            asked = [(r.arm, r.column, r.levels) for r in levels]
            reader = Ranked(logs, "ranked", ["latency_ms"])  # no fence kept: found by selection, then kept
            found = reader.quantiles(asked)
            for (n, values), wanted in zip(found, expected):
                assert n > 1000
                assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(values, wanted)), (values, wanted)  # type: ignore[arg-type]
            assert Ranked(logs, "ranked", ["latency_ms"]).quantiles(asked) == found  # through the kept fence
        assert logs.connection.execute("SELECT count(*) FROM rollout_cache.unit_answer_fences").fetchall()[0][0] == 2
        logs.connection.execute("UPDATE rollout_cache.unit_answer_fences SET v = 1e300")  # a fence above every value
        assert Ranked(logs, "ranked", ["latency_ms"]).quantiles(asked) == found
        wanted = expected[0] + expected[1]
        # thresholds at answers' own values (ties) and between them, low and high
        thresholds = [(wanted[3], wanted[7]), (wanted[7] + 1e-9, wanted[0]), (wanted[8], wanted[9])]  # type: ignore[operator]
        reader = Ranked(logs, "ranked", ["latency_ms"])
        requests = [IndicatorRequest(None, arm, "latency_p99", "latency_ms", t)  # type: ignore[arg-type]
                    for arm, t in zip(("baseline", "candidate", "baseline"), thresholds)]
        assert reader.sums(requests) == indicator_sums(
            logs, shadow=False, segments=[], requests=requests, since=None, until=until)
