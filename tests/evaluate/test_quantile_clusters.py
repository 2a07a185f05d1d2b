"""The relative p99 guard on requests clustered in units, read from a real DuckDB scan of parquet logs
(docs/statistics.md, section 6): the design effect the evaluator measures is the one numpy gets
from the same rows, and it widens the relative guard's interval."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
from evaluate_helpers import simulate, write_plan

from rollout_cli.data.queries import stage_aggregates
from rollout_cli.data.scans import window_facts
from rollout_cli.data.source import open_logs, utc_naive
from rollout_cli.evaluation import quantile_reads
from rollout_cli.evaluation.needs import stage_measures
from rollout_cli.evaluation.quantile_reads import (
    design_requests,
    light_quantiles,
    read_design_effects,
    with_bound_levels,
)
from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.quantile import design_effect

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=6)
GUARDS = [{"metric": "latency_p99", "max_increase": "10%"}]


def cluster_latencies(logs: Path, corr: float, seed: int) -> None:
    """Rewrite the simulated latencies so a unit's log-latencies share an effect (correlation corr)."""
    [path] = sorted(logs.glob("predictions*.parquet"))
    con = duckdb.connect()
    units = [row[0] for row in con.execute(f"SELECT DISTINCT user_id FROM '{path}' ORDER BY 1").fetchall()]
    rng = np.random.default_rng(seed)
    con.execute("CREATE TABLE effects (user_id VARCHAR, effect DOUBLE)")
    con.executemany("INSERT INTO effects VALUES (?, ?)",
                    [(str(u), float(e)) for u, e in zip(units, rng.normal(0.0, math.sqrt(corr), len(units)))])
    # the within-unit noise is uniform from a hash of the request (not random(), whose draws depend on
    # DuckDB's threads): the same logs, and so the same design effect, on every run
    noise = f"(hash(p.request_id, {seed}) % 1000003) / 1000003.0"
    con.execute(f"""COPY (SELECT p.* REPLACE (60 * exp(0.5 * (e.effect + sqrt({1 - corr}) * ({noise} * 2 - 1)
                                                               * sqrt(3.0))) AS latency_ms)
                  FROM '{path}' p JOIN effects e ON CAST(p.user_id AS VARCHAR) = e.user_id)
                  TO '{path}.tmp' (FORMAT parquet)""")
    Path(f"{path}.tmp").replace(path)


def numpy_design(logs: Path, arm: str, threshold: float) -> float:
    [path] = sorted(logs.glob("predictions*.parquet"))
    rows = duckdb.connect().execute(
        f"SELECT count(*) FILTER (WHERE latency_ms <= ?), count(latency_ms) FROM '{path}' "
        f"WHERE served AND arm = ? AND user_id IS NOT NULL AND ts <= ? GROUP BY user_id",
        [threshold, arm, utc_naive(END)]).fetchall()
    x = np.array([r[0] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=float)
    return design_effect(len(x), y.sum(), x.sum(), float(x @ x), float(x @ y), float(y @ y))


@pytest.mark.parametrize("in_main_statement", [True, False], ids=["counted-by-the-main-statement", "own-scan"])
def test_the_design_effect_read_from_the_logs_is_the_one_numpy_gets(tmp_path: Path, in_main_statement: bool) -> None:
    """The main statement counts the answers at the light scan's thresholds (data/design_counts.py);
    without those thresholds the design effect is read by its own scan: both are numpy's figure."""
    plan = write_plan(tmp_path, guards=GUARDS)
    simulate(plan, tmp_path, units=4_000, candidate_pct=50)
    cluster_latencies(tmp_path / "logs", corr=0.64, seed=3)
    stage = plan.stage("canary")
    needs = stage_measures(plan, stage)
    until = utc_naive(END)
    with open_logs(plan.data) as logs:
        facts = window_facts(logs, since=None, until=until, quantiled=light_quantiles(needs))
        design = design_requests(needs, facts) if in_main_statement else []
        agg = stage_aggregates(logs, shadow=False, segments=[], measures=needs.measures,
                               quantiles=with_bound_levels(plan, stage, needs, facts), since=None, until=until,
                               design=design)
        assert bool(agg.cells[None]["candidate"].quantile_indicators) is in_main_statement
        read_design_effects(logs, stage, needs, agg, [], [], None, until)
    for arm in ("baseline", "candidate"):
        cell = agg.cells[None][arm]
        estimate = cell.quantiles["latency_p99"]
        expected = numpy_design(tmp_path / "logs", arm, estimate)
        assert cell.quantile_design["latency_p99"] == pytest.approx(expected, rel=1e-9)
        # a few requests per unit, strongly correlated: clearly above 1 (1.19 on these logs, the same on every run)
        assert cell.quantile_design["latency_p99"] > 1.1


def test_clustering_widens_the_relative_p99_interval_and_an_equal_candidate_is_not_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = write_plan(tmp_path, guards=GUARDS)
    # enough units for 50 effective answers beyond the p99 per arm, clustered too (stats/quantile_ratio.py)
    simulate(plan, tmp_path, units=16_000, candidate_pct=50)
    cluster_latencies(tmp_path / "logs", corr=0.64, seed=4)
    clustered = evaluate_stage(plan, plan.stage("canary"), now=END)
    # the same rows treated as independent requests: every design effect taken as 1
    monkeypatch.setattr(quantile_reads, "design_effect", lambda *_: 1.0)
    independent = evaluate_stage(plan, plan.stage("canary"), now=END)
    [before] = [c for c in independent.checks if c.metric == "latency_p99"]
    [after] = [c for c in clustered.checks if c.metric == "latency_p99"]
    assert after.outcome is not Outcome.FAIL
    assert before.interval is not None and after.interval is not None
    assert after.interval[1] - after.interval[0] > 1.05 * (before.interval[1] - before.interval[0])


@pytest.mark.parametrize("kind", ["shadow", "per-segment"])
def test_the_main_statements_design_counts_equal_the_scans(tmp_path: Path, kind: str) -> None:
    """A shadow stage groups answers per (unit, arm) and a per-segment guard reads its segment values by
    scan: in both, the design effects counted by the main statement are the scan's, figure for figure."""
    guards = [{"metric": "latency_p99", "max_increase": "10%", "per_segment": kind == "per-segment"}]
    plan = write_plan(tmp_path, guards=guards)
    simulate(plan, tmp_path, units=3_000, candidate_pct=50, shadow_pct=100)
    cluster_latencies(tmp_path / "logs", corr=0.5, seed=5)
    canary = plan.stage("canary")
    stage = replace(plan.stage("shadow"), guards=canary.guards) if kind == "shadow" else canary
    needs = stage_measures(plan, stage)
    segments = list(plan.segments) if kind == "per-segment" else []
    until = utc_naive(END)
    designs = []
    with open_logs(plan.data) as logs:
        facts = window_facts(logs, since=None, until=until, shadow=stage.is_shadow, quantiled=light_quantiles(needs))
        for design in (design_requests(needs, facts), []):
            agg = stage_aggregates(logs, shadow=stage.is_shadow, segments=segments, measures=needs.measures,
                                   quantiles=with_bound_levels(plan, stage, needs, facts), since=None, until=until,
                                   quantile_segments=kind == "per-segment", design=design)
            populations = [p for p in agg.cells if p is not None]
            read_design_effects(logs, stage, needs, agg, populations, segments, None, until)
            designs.append({(p, arm): cell.quantile_design.get("latency_p99")
                            for p, cells in agg.cells.items() for arm, cell in cells.items()})
    counted, scanned = designs
    assert counted == scanned
    assert counted[(None, "candidate")] is not None and counted[(None, "candidate")] > 1.1
