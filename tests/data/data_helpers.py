"""Tiny hand-made logs in every supported format, with numbers small enough to check by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml, yaml_value
from rollout_cli.plan.model import Plan

# 2026-01-05, window 09:30..12:00. u1 baseline; u2 candidate first, then baseline (crossed);
# u3 candidate; u4 only before the window; r1 also has an unserved (shadow) candidate answer.
PREDICTIONS = [
    # request_id, ts, user_id, arm, served, prediction, latency_ms, error, country, platform
    ("r1", "2026-01-05 10:00:00", "u1", "baseline", True, 0.5, 100.0, False, "US", "ios"),
    ("r1", "2026-01-05 10:00:01", "u1", "candidate", False, 0.52, 120.0, False, "US", "ios"),
    ("r2", "2026-01-05 10:30:00", "u1", "baseline", True, 0.4, 300.0, False, "US", "ios"),
    ("r3", "2026-01-05 10:05:00", "u2", "candidate", True, 0.7, 200.0, True, "DE", "web"),
    ("r4", "2026-01-05 10:20:00", "u2", "baseline", True, 0.6, 260.0, False, "DE", "web"),
    ("r5", "2026-01-05 10:10:00", "u3", "candidate", True, 0.2, 50.0, False, "US", "ios"),
    ("r6", "2026-01-05 09:00:00", "u4", "baseline", True, 0.1, 80.0, False, "US", "web"),
]
OUTCOMES = [
    # user_id, request_id, ts, event, value
    ("u1", None, "2026-01-05 10:15:00", "purchase", 10.0),  # counts
    ("u1", None, "2026-01-05 11:20:00", "purchase", 5.0),  # counts: last answer 10:30 + 1h
    ("u1", None, "2026-01-05 11:45:00", "purchase", 7.0),  # too late
    ("u3", None, "2026-01-05 10:05:00", "purchase", 3.0),  # before its first answer
    ("u3", "r5", "2026-01-05 10:12:00", "click", None),  # not a purchase
    ("u2", None, "2026-01-05 10:50:00", "purchase", 4.0),  # counts, candidate arm
    ("u5", None, "2026-01-05 10:30:00", "purchase", 9.0),  # never exposed
]

PRED_COLUMNS = ("request_id VARCHAR, ts TIMESTAMP, user_id VARCHAR, arm VARCHAR, served BOOLEAN, prediction DOUBLE, "
                "latency_ms DOUBLE, error BOOLEAN, country VARCHAR, platform VARCHAR")
OUT_COLUMNS = "user_id VARCHAR, request_id VARCHAR, ts TIMESTAMP, event VARCHAR, value DOUBLE"


def _fill(con: duckdb.DuckDBPyConnection, name: str, columns: str, rows: list[tuple], types: dict[str, str]) -> None:
    definitions = []
    for definition in columns.split(", "):
        column = definition.split(" ")[0]
        definitions.append(f"{column} {types[column]}" if column in types else definition)
    con.execute(f"CREATE TABLE {name} ({', '.join(definitions)})")
    if rows:
        marks = ", ".join("?" for _ in rows[0])
        con.executemany(f"INSERT INTO {name} VALUES ({marks})", [list(r) for r in rows])


def write_logs(root: Path, fmt: str, *, predictions: list[tuple] | None = None, outcomes: list[tuple] | None = None,
               pred_types: dict[str, str] | None = None) -> tuple[str, str]:
    """Write the logs as parquet, csv, jsonl or a DuckDB database; returns the plan's two data values."""
    root.mkdir(parents=True, exist_ok=True)
    preds = PREDICTIONS if predictions is None else predictions
    outs = OUTCOMES if outcomes is None else outcomes
    if fmt == "duckdb":
        database = root / "logs.duckdb"
        con = duckdb.connect(str(database))
        _fill(con, "predictions", PRED_COLUMNS, preds, pred_types or {})
        _fill(con, "outcomes", OUT_COLUMNS, outs, {})
        con.close()
        return (f"{{database: {database}, table: predictions}}", f"{{database: {database}, table: outcomes}}")
    con = duckdb.connect()
    _fill(con, "predictions", PRED_COLUMNS, preds, pred_types or {})
    _fill(con, "outcomes", OUT_COLUMNS, outs, {})
    option = {"parquet": "(FORMAT parquet)", "csv": "(FORMAT csv, HEADER)", "jsonl": "(FORMAT json)"}[fmt]
    for name in ("predictions", "outcomes"):
        con.execute(f"COPY {name} TO '{root / (name + '.' + fmt)}' {option}")
    con.close()
    return str(root / f"predictions.{fmt}"), str(root / f"outcomes.{fmt}")


def plan_with(root: Path, predictions: Any, outcomes: Any, *, columns: Any = "{unit_id: user_id}",
              segments: Any = "[country, platform]", freshness: str = "24h") -> Plan:
    """The tiny plan over these logs; data sources, columns and segments as data or as YAML words."""
    document = {
        "version": 1,
        "name": "tiny",
        "models": {"baseline": "m1", "candidate": "m2"},
        "router": {"adapter": "file", "options": {"path": str(root / "router.json")}},
        "data": {"predictions": yaml_value(predictions), "outcomes": yaml_value(outcomes),
                 "columns": yaml_value(columns)},
        "segments": yaml_value(segments),
        "metrics": {
            "conversion": {"kind": "proportion", "event": "purchase", "window": "1h"},
            "revenue": {"kind": "mean", "event": "purchase", "window": "1h"},
            "latency_p99": {"kind": "quantile", "column": "latency_ms", "q": 0.99},
            "error_rate": {"kind": "proportion", "column": "error"},
            "agreement": {"kind": "agreement", "tolerance": 0.05},
            "latency_mean": {"kind": "mean", "column": "latency_ms"},
        },
        "guards": [
            {"metric": "conversion", "max_drop": "2%", "per_segment": True},
            {"metric": "revenue", "max_drop": "3%"},
            {"metric": "latency_p99", "max": 250},
            {"metric": "error_rate", "max": "0.5%"},
            {"metric": "latency_mean", "max_increase": "20%"},
        ],
        "stages": [
            {"name": "shadow", "shadow": "100%", "guards": [{"metric": "agreement", "min": "90%"}]},
            {"name": "canary", "traffic": "50%"},
            {"name": "full", "traffic": "100%"},
        ],
        "decision": {"confidence": "95%", "freshness": freshness, "min_units_per_check": 1},
        "teams": {"oncall": ["alice"]},
        "rollback": {"authority": ["team:oncall"], "max_duration": "20m", "steps": [{"route": "baseline"}]},
    }
    path = root / "plan.yaml"
    path.write_text(plan_yaml(document))
    return load_plan(path)
