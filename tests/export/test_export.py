"""`rollout export` on the demo's rollout: what the evaluation saw, row for row, and the file
handling an analyst relies on (no overwrite without --force, no half file, a dictionary beside)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from rollout_support import assert_odd_targets_kept, odd_targets

from rollout_cli.sim.demo import DemoSummary
from rollout_cli.state.store import StateStore


def _sql(query: str) -> list[tuple[object, ...]]:
    """One statement on a connection of its own (the module's default one is shared with other tests)."""
    with duckdb.connect() as con:
        return con.execute(query).fetchall()


def _export(demo: DemoSummary, *args: str, cwd: Path, state: Path | None = None,
            plan: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rollout_cli", "export", str(plan or demo.plan_path), "--state-dir",
                           str(state or demo.directory / ".rollout"), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, check=False)


@pytest.fixture(scope="module")
def units_file(demo: DemoSummary, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "units.parquet"
    result = _export(demo, "--out", str(out), "--per", "unit", cwd=out.parent)
    assert result.returncode == 0, result.stderr
    return out


def test_per_unit_rows_reproduce_the_evaluation_that_rolled_back(demo: DemoSummary, units_file: Path) -> None:
    store = StateStore.open(demo.directory / ".rollout")
    last = store.evaluations("demo-ranker")[-1]
    assert (last.stage, last.verdict) == ("ramp-25", "fail")
    rows = _sql(f"SELECT platform, unit_arm, count(*), avg(outcome_conversion) FROM '{units_file}' "
                      "WHERE stage = 'ramp-25' GROUP BY ALL")
    exported = {(platform, arm): (n, mean) for platform, arm, n, mean in rows}
    for check in last.checks:
        platform = check.segment[1] if check.segment else None
        for arm, units, value in (("baseline", check.baseline_units, check.baseline),
                                  ("candidate", check.candidate_units, check.candidate)):
            cells = [v for (p, a), v in exported.items() if a == arm and (platform is None or p == platform)]
            assert sum(n for n, _ in cells) == units
            assert sum(n * mean for n, mean in cells) / units == pytest.approx(value, rel=1e-12)


def test_per_request_rows_carry_both_answers_the_stage_and_the_flags(demo: DemoSummary, tmp_path: Path,
                                                                       units_file: Path) -> None:
    out = tmp_path / "requests.parquet"
    result = _export(demo, "--out", str(out), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    logs = str(demo.directory / "logs" / "predictions*.parquet")
    assert doc["rows"] == _sql(f"SELECT count(DISTINCT request_id) FROM '{logs}'")[0][0]
    by_stage = dict(_sql(f"SELECT stage, count(*) FILTER (WHERE baseline_prediction IS NOT NULL AND "
                               f"candidate_prediction IS NOT NULL) FROM '{out}' GROUP BY stage"))
    assert by_stage["shadow"] > 0 and by_stage["canary"] == 0  # both answers exist in shadow only
    splits = _sql(f"SELECT DISTINCT stage, candidate_traffic, shadow FROM '{out}' ORDER BY 2")
    assert splits == [("shadow", 0.0, 100.0), ("canary", 20.0, 0.0), ("ramp-25", 25.0, 0.0)]
    first = _sql(f"SELECT stage, unit_arm, count(*) FROM '{out}' WHERE first_exposure GROUP BY ALL")
    units = _sql(f"SELECT stage, unit_arm, count(*) FROM '{units_file}' GROUP BY ALL")
    assert sorted(first) == sorted(units)  # one first exposure per unit and stage
    dictionary = list(csv.DictReader((tmp_path / "requests.dictionary.csv").open()))
    columns = [d[0] for d in _sql(f"DESCRIBE SELECT * FROM '{out}'")]
    assert [d["column"] for d in dictionary] == columns == [c["column"] for c in doc["columns"]]
    assert all(d["meaning"] and d["type"] for d in dictionary)
    assert {"first_exposure", "crossover", "outcome_conversion", "platform", "stage"} <= set(columns)


def test_it_refuses_to_overwrite_without_force_and_writes_csv(demo: DemoSummary, tmp_path: Path) -> None:
    out = tmp_path / "ramp.csv"
    out.write_text("keep me")
    refused = _export(demo, "--out", str(out), "--stage", "ramp-25", cwd=tmp_path)
    assert refused.returncode == 2
    assert f"{out} already exists; nothing was written" in refused.stderr and "--force" in refused.stderr
    assert out.read_text() == "keep me"
    forced = _export(demo, "--out", str(out), "--stage", "ramp-25", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    rows = list(csv.DictReader(out.open()))
    assert rows and {r["stage"] for r in rows} == {"ramp-25"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ramp.csv", "ramp.dictionary.csv"]


def test_force_replaces_a_file_never_a_pipe_a_device_or_a_link(demo: DemoSummary, tmp_path: Path) -> None:
    """Writing to a temporary file and renaming it over --out would swap a device (a FIFO stands in
    for one here) or a link for a regular file: refused, and each stays what it was."""
    for target, words in odd_targets(tmp_path, ".parquet").items():
        result = _export(demo, "--out", str(target), "--force", cwd=tmp_path)
        assert result.returncode == 2, result.stdout
        assert result.stderr.splitlines()[0] == f"error: --out {target} {words}"
    assert_odd_targets_kept(tmp_path, ".parquet")


def test_describe_prints_the_dictionary_and_writes_nothing(demo: DemoSummary, tmp_path: Path) -> None:
    result = _export(demo, "--describe", "--per", "unit", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["path"] is None and list(tmp_path.iterdir()) == []
    meaning = {c["column"]: c["meaning"] for c in doc["columns"]}
    assert meaning["outcome_conversion"].startswith("metric conversion: 1 if the unit had a 'purchase' event within 1h")


def test_bad_input_is_a_message_and_no_file(demo: DemoSummary, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    no_state = _export(demo, "--out", str(out), cwd=tmp_path, state=tmp_path / "none")
    assert no_state.returncode == 2 and "no rollout state for demo-ranker: looked in" in no_state.stderr
    never = _export(demo, "--out", str(out), "--stage", "full", cwd=tmp_path)
    assert never.returncode == 2
    assert "stage full never ran in demo-ranker (stages that ran: shadow, canary, ramp-25)" in never.stderr
    unknown = _export(demo, "--out", str(out), "--stage", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "has no stage 'nope'" in unknown.stderr
    (tmp_path / "file").write_text("")
    unwritable = _export(demo, "--out", str(tmp_path / "file" / "x.parquet"), cwd=tmp_path)
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_window_that_starts_after_it_ends_is_refused(demo: DemoSummary, tmp_path: Path) -> None:
    """As evaluate and shadow say: not `wrote 0 rows`."""
    out = tmp_path / "x.parquet"
    result = _export(demo, "--out", str(out), "--since", "1h", "--until", "2h", "--force", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("error: the window starts (") and ") after it ends (" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_failure_during_the_copy_leaves_no_file(demo: DemoSummary, tmp_path: Path) -> None:
    """A damaged log file that only the full scan reaches: the export fails and leaves nothing."""
    shutil.copytree(demo.directory / "logs", tmp_path / "logs")
    (tmp_path / "logs" / "predictions-999.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    plan = tmp_path / "plan.yaml"
    plan.write_text(demo.plan_path.read_text().replace(str(demo.directory / "logs"), str(tmp_path / "logs")))
    out = tmp_path / "out" / "x.parquet"
    result = _export(demo, "--out", str(out), cwd=tmp_path, plan=plan)
    assert result.returncode == 2, result.stdout
    assert "predictions-999.parquet" in result.stderr and "Traceback" not in result.stderr
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
