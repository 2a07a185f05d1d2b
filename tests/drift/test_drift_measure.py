"""Drift over real DuckDB-read files: bins, missing and unseen values, outputs, bad input, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from rollout_cli.data.source import open_logs
from rollout_cli.drift.measure import measure_drift
from rollout_cli.errors import DataError
from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml, yaml_value
from rollout_cli.stats.shift import ShiftDecision

T0 = datetime(2026, 3, 2, tzinfo=UTC)
UNTIL = T0 + timedelta(hours=2)

def plan_document(directory: Path, drift: object) -> dict[str, object]:
    return {
        "version": 1, "name": "d", "models": {"baseline": "v1", "candidate": "v2"},
        "router": {"adapter": "file", "options": {"path": "router.json"}},
        "data": {"predictions": f"{directory}/p.parquet", "training": f"{directory}/t.parquet"},
        "metrics": {"error_rate": {"kind": "proportion", "column": "error"}},
        "guards": [{"metric": "error_rate", "max": "1%"}],
        "stages": [{"name": "shadow", "shadow": "100%"}, {"name": "full", "traffic": "100%"}],
        "drift": drift,
        "rollback": {"authority": ["alice"], "max_duration": "5m", "steps": [{"route": "baseline"}]},
    }


def write(directory: Path, name: str, select: str) -> None:
    with duckdb.connect() as con:  # its own connection: the module's shared one may hold another test's result
        con.execute(f"COPY ({select}) TO '{directory / name}' (FORMAT parquet)")


def predictions(directory: Path, price: str = "(i % 1000)::DOUBLE", country: str = "['de', 'fr', 'us'][i % 3 + 1]",
                rows: int = 6000, unit: str | None = None) -> None:
    """`rows` answers over two hours, alternating arms, every one served; `unit`: a unit_id column."""
    write(directory, "p.parquet",
          f"SELECT {'' if unit is None else f'{unit} AS unit_id, '}"
          f"TIMESTAMPTZ '{T0.isoformat()}' + to_milliseconds(i * (7200000 // {rows})) AS ts, "
          f"CASE WHEN i % 2 = 0 THEN 'baseline' ELSE 'candidate' END AS arm, TRUE AS served, "
          f"(i % 97) / 97.0 AS prediction, FALSE AS error, {price} AS price, {country} AS country "
          f"FROM range({rows}) t(i)")


def training(directory: Path, price: str = "(i % 1000)::DOUBLE", country: str = "['de', 'fr', 'us'][i % 3 + 1]",
             rows: int = 3000) -> None:
    write(directory, "t.parquet", f"SELECT {price} AS price, {country} AS country FROM range({rows}) t(i)")


def plan_file(directory: Path, drift: str = "  features: [price, country]") -> Path:
    """`drift`: the plan's drift section, as the YAML lines a person would write under `drift:`."""
    path = directory / "plan.yaml"
    path.write_text(plan_yaml(plan_document(directory, yaml_value(drift))))
    return path


def measure(path: Path):
    plan = load_plan(path)
    with open_logs(plan.data, with_training=True) as logs:
        return measure_drift(plan, logs, until=UNTIL)


def test_identical_distributions_are_not_drifted_and_bins_are_reference_deciles(tmp_path: Path) -> None:
    predictions(tmp_path)
    training(tmp_path)
    report = measure(plan_file(tmp_path))
    price, country = report.columns
    assert price.bins.kind == "numeric" and len(price.bins.edges) == 9
    assert price.bins.labels[:3] == ("missing", "<= 99.9", "(99.9, 199.8]")
    assert country.bins.labels == ("missing", "de", "fr", "us", "unseen")
    assert [w.start for w in price.windows] == [T0, T0 + timedelta(hours=1)]
    assert all(w.shift.decision is ShiftDecision.NOT_DRIFTED for c in report.columns for w in c.windows)
    assert report.drifted() == []


def test_missing_values_are_counted_and_new_categories_land_in_unseen(tmp_path: Path) -> None:
    predictions(tmp_path, price="CASE WHEN i % 2 = 0 THEN NULL ELSE (i % 1000)::DOUBLE END",
                country="['de', 'fr', 'br'][i % 3 + 1]")
    training(tmp_path)
    report = measure(plan_file(tmp_path))
    price, country = report.columns
    window = price.windows[0]
    assert window.counts[0] == window.shift.window_rows // 2  # the NULL half, in "missing"
    assert window.shift.decision is ShiftDecision.DRIFTED
    assert price.moved_most(window, 1)[0][0] == "missing"
    seen = country.windows[0]
    assert country.moved_most(seen, 2)[0][0] in ("unseen", "us")
    assert seen.counts[-1] == seen.shift.window_rows // 3
    assert report.drifted() == ["price", "country"]


def test_outputs_are_compared_with_each_models_first_window(tmp_path: Path) -> None:
    predictions(tmp_path)
    training(tmp_path)
    report = measure(plan_file(tmp_path, "  outputs: true"))
    assert [c.name for c in report.columns] == ["prediction (baseline)", "prediction (candidate)"]
    assert all(c.role == "output" and len(c.windows) == 2 for c in report.columns)
    assert report.drifted() == []


def test_a_production_window_as_the_reference(tmp_path: Path) -> None:
    # The first hour is the reference; the second hour's prices are all above its range.
    predictions(tmp_path, price="CASE WHEN i < 3000 THEN (i % 1000)::DOUBLE ELSE 5000.0 + i END")
    training(tmp_path)
    report = measure(plan_file(tmp_path, "  reference: {baseline_first: 1h}\n  features: [price]"))
    (price,) = report.columns
    assert report.reference.startswith("the baseline's answers 2026-03-02 00:00 to 2026-03-02 01:00")
    assert [w.shift.decision for w in price.windows] == [ShiftDecision.NOT_DRIFTED, ShiftDecision.DRIFTED]


def test_a_window_of_few_units_is_judged_on_its_units_not_its_rows(tmp_path: Path) -> None:
    # 15 users an hour, 200 requests each, every request of a user at the user's own price: 3,000
    # rows an hour but 15 draws of the price. Counted as rows the second hour "drifted" (and the first
    # was "not drifted"); the design effect of its units leaves both undecided.
    price = "((i // 200) * 389 % 1000)::DOUBLE"
    predictions(tmp_path, price=price, unit="i // 200")
    training(tmp_path)
    (clustered,) = measure(plan_file(tmp_path, "  features: [price]")).columns
    assert [w.shift.decision for w in clustered.windows] == [ShiftDecision.NOT_ENOUGH_DATA] * 2
    predictions(tmp_path, price=price, unit="i")  # the same rows, each its own unit
    (independent,) = measure(plan_file(tmp_path, "  features: [price]")).columns
    assert [w.shift.decision for w in independent.windows] == [ShiftDecision.NOT_DRIFTED, ShiftDecision.DRIFTED]
    assert [w.shift.estimate for w in clustered.windows] == [w.shift.estimate for w in independent.windows]
    assert all(c.shift.high > 2 * i.shift.high for c, i in zip(clustered.windows, independent.windows))


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: (predictions(d), write(d, "t.parquet", "SELECT 'x' AS country FROM range(10)")),
     "feature 'price' is missing from training ({dir}/t.parquet)"),
    (lambda d: (predictions(d, price="(i % 1000)::VARCHAR"), training(d)),
     "feature 'price' changed type: DOUBLE in training but VARCHAR in predictions ({dir}/p.parquet)"),
    (lambda d: (predictions(d), training(d, rows=0)),
     "the reference (training ({dir}/t.parquet)) has no rows to compare 'price' with"),
    (lambda d: (predictions(d), training(d, price="NULL::DOUBLE")),
     "'price' is NULL in every one of the 3000 rows of the reference (training ({dir}/t.parquet))"),
])
def test_bad_input_names_the_feature(tmp_path: Path, setup, message: str) -> None:
    setup(tmp_path)
    with pytest.raises(DataError) as caught:
        measure(plan_file(tmp_path))
    assert caught.value.message == message.format(dir=tmp_path)


def rollout(args: list[str], cwd: Path, now: datetime = UNTIL) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "ROLLOUT_NOW": now.isoformat()}
    return subprocess.run([sys.executable, "-m", "rollout_cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_command_json_text_and_exit_codes(tmp_path: Path) -> None:
    predictions(tmp_path, price="CASE WHEN i < 3000 THEN (i % 1000)::DOUBLE ELSE 5000.0 + i END")
    training(tmp_path)
    path = plan_file(tmp_path)
    result = rollout(["drift", str(path), "--json"], tmp_path)
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["drifted"] == ["price"]
    price = doc["columns"][0]
    assert [w["decision"] for w in price["windows"]] == ["not drifted", "drifted"]
    assert price["windows"][1]["moved_most"][0]["bin"] == "> 899.1"
    assert price["windows"][1]["interval"][0] > 0.2
    text = rollout(["drift", str(path), "--window", "30m"], tmp_path)
    assert text.returncode == 1
    assert "price (feature, numeric, PSI threshold 0.2): drifted" in text.stdout
    assert "▁▁" in text.stdout and "█" in text.stdout
    training(tmp_path, price="(i % 1000)::VARCHAR")
    bad = rollout(["drift", str(path)], tmp_path)
    assert bad.returncode == 2
    assert "error: feature 'price' changed type: VARCHAR in training but DOUBLE in predictions" in bad.stderr


def test_an_until_after_now_judges_no_open_window(tmp_path: Path) -> None:
    """At 01:30 the window 01:00-02:00 is still open: its drifted half hour is shown, never judged."""
    predictions(tmp_path, price="CASE WHEN i < 3000 THEN (i % 1000)::DOUBLE ELSE 5000.0 + i END")
    training(tmp_path)
    path = plan_file(tmp_path)
    now = T0 + timedelta(minutes=90)
    for until in ([], ["--until", "2030-01-01"]):
        result = rollout(["drift", str(path), "--json", *until], tmp_path, now=now)
        assert result.returncode == 0, (until, result.stdout, result.stderr)
        doc = json.loads(result.stdout)
        assert doc["drifted"] == [] and doc["until"] == now.isoformat()
        assert [w["complete"] for w in doc["columns"][0]["windows"]] == [True, False]
    text = rollout(["drift", str(path), "--until", "2030-01-01"], tmp_path, now=now)
    assert text.returncode == 0
    assert "note: --until 2030-01-01 is after now (2026-03-02T01:30:00Z): the window ends now" in text.stderr
