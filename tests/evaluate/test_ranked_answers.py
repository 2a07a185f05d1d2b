"""The ranked answers the evaluation cache keeps (logcache/answers.py) give exactly the design sums
and quantiles the scans over the answers give (data/scans.py): integers equal, quantiles to the
last bits of the interpolation."""

from __future__ import annotations

import math
from pathlib import Path

from evaluate_helpers import simulate, write_plan

from rollout_cli.data.scans import IndicatorRequest, LevelRequest, indicator_sums, quantiles_at_levels
from rollout_cli.data.source import SqlParams, open_logs
from rollout_cli.logcache.answers import ranked_answers, ranked_quantiles, ranked_sums

LEVELS = (0.0, 0.001, 0.25, 0.5, 0.9, 0.97, 0.985, 0.99, 0.9953, 1.0)


def test_ranked_answers_match_the_scans(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    simulated = simulate(plan, tmp_path, seed=3, units=3000)
    until = simulated.end
    with open_logs(plan.data) as logs:
        params = SqlParams()
        build = ranked_answers(["latency_ms"], None, until)
        logs.connection.execute(f"CREATE TEMP TABLE ranked AS {build(logs, params, logs.predictions.column('unit_id', 'any'))}",
                                params.values)
        levels = [LevelRequest(None, arm, "latency_p99", "latency_ms", LEVELS) for arm in ("baseline", "candidate")]
        expected = quantiles_at_levels(logs, shadow=False, segments=[], requests=levels, since=None, until=until)
        found = ranked_quantiles(logs, "ranked", ["latency_ms"], [(r.arm, r.column, r.levels) for r in levels])
        for (n, values), wanted in zip(found, expected):
            assert n > 1000
            assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(values, wanted)), (values, wanted)  # type: ignore[arg-type]
        # thresholds at answers' own values (ties) and between them, low and high
        thresholds = [(wanted[3], wanted[7]), (wanted[7] + 1e-9, wanted[0]), (wanted[8], wanted[9])]  # type: ignore[operator]
        requests = [IndicatorRequest(None, arm, "latency_p99", "latency_ms", t)  # type: ignore[arg-type]
                    for arm, t in zip(("baseline", "candidate", "baseline"), thresholds)]
        assert ranked_sums(logs, "ranked", ["latency_ms"], requests) == indicator_sums(
            logs, shadow=False, segments=[], requests=requests, since=None, until=until)
