"""The outcome join's build side (data/join_sides.py): chosen from the parquet files' own row counts,
the same sums whichever side the hash table is built on, and DuckDB's own choice back after the
statement, also when it fails."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from data_helpers import plan_with, write_logs

from rollout_cli.data import queries
from rollout_cli.data.join_sides import SWAP, as_written, outcomes_build
from rollout_cli.data.source import open_logs
from rollout_cli.errors import DataError
from rollout_cli.evaluation.needs import stage_measures

UNTIL = datetime(2026, 1, 6)


def _plan(root: Path, outcomes: int, fmt: str = "parquet"):  # type: ignore[no-untyped-def]
    """600 answers of 150 users, and `outcomes` purchases and clicks of theirs (some outside any window)."""
    rng = random.Random(7)
    start = datetime(2026, 1, 5, 9)
    predictions = [(f"r{i}", str(start + timedelta(minutes=rng.randrange(600))), f"u{rng.randrange(150)}",
                    rng.choice(["baseline", "candidate"]), True, rng.random(), rng.uniform(20, 400), False,
                    rng.choice(["US", "DE"]), rng.choice(["ios", "web"])) for i in range(600)]
    events = [(f"u{rng.randrange(160)}", None, str(start + timedelta(minutes=rng.randrange(700))),
               rng.choice(["purchase", "purchase", "click"]), round(rng.uniform(1, 50), 2)) for _ in range(outcomes)]
    return plan_with(root, *write_logs(root / "logs", fmt, predictions=predictions, outcomes=events))


def _cells(plan, monkeypatch: pytest.MonkeyPatch, build_outcomes: bool) -> dict:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(queries, "outcomes_build", lambda logs: build_outcomes)
    needs = stage_measures(plan, plan.stage("canary"))
    with open_logs(plan.data) as logs:
        agg = queries.stage_aggregates(logs, shadow=False, segments=["country", "platform"], measures=needs.measures,
                                       quantiles=needs.quantiles, since=None, until=UNTIL)
        assert logs.connection.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] == ""

    def rounded(sums: object) -> tuple:  # DuckDB sums doubles in no fixed order
        return tuple(v if v is None or isinstance(v, int) else float(f"{v:.12g}") for v in vars(sums).values())

    return {(population, arm): (cell.units, sorted((k, rounded(v)) for k, v in cell.sums.items()))
            for population, arms in agg.cells.items() for arm, cell in arms.items()}


@pytest.mark.parametrize("outcomes", [100, 400])
def test_the_sums_do_not_depend_on_the_build_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  outcomes: int) -> None:
    plan = _plan(tmp_path, outcomes)
    on_outcomes, as_estimated = _cells(plan, monkeypatch, True), _cells(plan, monkeypatch, False)
    assert on_outcomes == as_estimated
    assert all(dict(sums)["conversion"][1] > 0 for _, sums in on_outcomes.values())  # units converted in each cell


@pytest.mark.parametrize(("outcomes", "fmt", "expected"), [(100, "parquet", True), (299, "parquet", True),
                                                           (300, "parquet", False), (100, "csv", False),
                                                           (100, "duckdb", False)])
def test_the_outcomes_are_built_on_when_their_files_hold_fewer_than_half_the_prediction_rows(
        tmp_path: Path, outcomes: int, fmt: str, expected: bool) -> None:
    with open_logs(_plan(tmp_path, outcomes, fmt).data) as logs:
        assert outcomes_build(logs) is expected


def test_duckdb_chooses_again_after_the_statement_even_when_it_fails(tmp_path: Path) -> None:
    with open_logs(_plan(tmp_path, 100).data) as logs:
        setting = "SELECT current_setting('disabled_optimizers')"
        with as_written(logs, True):
            assert logs.connection.execute(setting).fetchone()[0] == SWAP
        with pytest.raises(DataError), as_written(logs, True):
            logs.query("SELECT no_such_column FROM range(1)", queries.SqlParams())
        assert logs.connection.execute(setting).fetchone()[0] == ""


def _cte_definitions(node: dict, found: dict[str, dict]) -> dict[str, dict]:
    """The plan's materialized CTEs (the outcome rows with their copies, data/queries.py) by table index."""
    if node["name"] == "CTE":
        found[node["extra_info"]["Table Index"]] = node["children"][0]
    for child in node["children"]:
        _cte_definitions(child, found)
    return found


def _subtree_reads_events(node: dict, ctes: dict[str, dict]) -> bool:
    if node["name"] == "CTE_SCAN":  # what the CTE it scans reads
        return _subtree_reads_events(ctes[node["extra_info"]["CTE Index"]], ctes)
    return "event" in json.dumps(node.get("extra_info", {})) or any(
        _subtree_reads_events(c, ctes) for c in node["children"])


def _outcome_join(node: dict) -> dict | None:
    """The inner hash join on the unit and the outcome's time (data/queries.py, `outcome_units`)."""
    info = node.get("extra_info", {})
    if node["name"] == "HASH_JOIN" and info.get("Join Type") == "INNER" and "first_ts" in json.dumps(info):
        return node
    return next((found for c in node["children"] if (found := _outcome_join(c)) is not None), None)


def test_with_the_swap_off_the_outcome_join_builds_on_the_outcome_rows(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB builds a hash join on its right child: with the swap off, the outcome rows as written."""
    plan = _plan(tmp_path, 100)
    statements: list[tuple[str, dict]] = []
    needs = stage_measures(plan, plan.stage("canary"))
    with open_logs(plan.data) as logs:
        read = logs.query
        monkeypatch.setattr(logs, "query", lambda sql, params: statements.append((sql, params.values)) or read(sql, params))
        queries.stage_aggregates(logs, shadow=False, segments=["country", "platform"], measures=needs.measures,
                                 quantiles=needs.quantiles, since=None, until=UNTIL)
        sql, params = max(statements, key=lambda s: len(s[0]))
        with as_written(logs, True):
            explained = json.loads(logs.connection.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchall()[0][1])
    join = _outcome_join(explained[0])
    assert join is not None
    probe, build = join["children"]
    ctes = _cte_definitions(explained[0], {})
    assert _subtree_reads_events(build, ctes) and not _subtree_reads_events(probe, ctes)
