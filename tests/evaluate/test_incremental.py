"""The evaluation cache (rollout_cli.logcache, docs/incremental.md): a look through the cache gives
the figures and verdict of a look that reads every log file, whatever arrives, late or out of order,
rewritten or deleted; a cache it cannot trust is discarded and rebuilt, never believed."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from evaluate_helpers import write_plan

from rollout_cli.errors import DataError
from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.logcache import CACHE_FILE
from rollout_cli.plan.model import Plan
from rollout_cli.sim.logs import scenario_named, simulate_logs


def _figures(doc: Any) -> Any:
    """An evaluation's JSON without the note on how the logs were read."""
    if isinstance(doc, dict):
        return {k: _figures(v) for k, v in doc.items() if k != "cache"}
    if isinstance(doc, list):
        return [_figures(v) for v in doc]
    return doc


def assert_same(left: Any, right: Any, where: str = "") -> None:
    """Equal documents, floats to a relative 1e-9 (sums taken in another order)."""
    if isinstance(left, float) and isinstance(right, float):
        assert math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {left} != {right}"
    elif isinstance(left, dict) and isinstance(right, dict):
        assert left.keys() == right.keys(), where
        for key in left:
            assert_same(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list) and isinstance(right, list):
        assert len(left) == len(right), where
        for i, (a, b) in enumerate(zip(left, right)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert left == right, f"{where}: {left!r} != {right!r}"


class Arrivals:
    """A scenario's logs cut into small files that arrive in a random order: outcomes before the
    answers they follow, answers older than files already there (fixed seed). `dirty`: rows of an
    unknown arm, rows shipped twice, and answers of one unit in several segment values — so a late
    answer older than a unit's first one moves the unit to another cell (segment, or arm in the
    crossover scenario) and its kept sums must move with it."""

    def __init__(self, plan: Plan, tmp: Path, scenario: str, seed: int, pieces: int = 6, dirty: bool = False) -> None:
        source = tmp / "whole"
        written = simulate_logs(plan, source, scenario=scenario_named(scenario, units=1500), seed=seed)
        self.end = written.end
        rng = np.random.default_rng(seed)
        self.files: list[tuple[str, pa.Table]] = []
        for kind in ("predictions", "outcomes"):
            table = pq.read_table(source / f"{kind}.parquet")
            unit = table.column("user_id")  # a few rows without a unit (left out, in every file)
            gone = pa.array(rng.random(table.num_rows) < 0.003)
            table = table.set_column(table.schema.get_field_index("user_id"), "user_id",
                                     pc.if_else(gone, pa.scalar(None, unit.type), unit))
            if dirty and kind == "predictions":  # arms nobody knows, and rows shipped twice (data/quality.py)
                arm = table.column("arm")
                odd = pa.array(rng.random(table.num_rows) < 0.004)
                table = table.set_column(table.schema.get_field_index("arm"), "arm",
                                         pc.if_else(odd, pa.scalar("treatment", arm.type), arm))
                repeats = table.take(pa.array(rng.choice(table.num_rows, 5, replace=False)))  # arrive last
                country = table.column("country")
                values = pc.unique(country)
                shifted = pa.array(rng.integers(0, len(values), table.num_rows)).cast(pa.int64())
                moved = pa.array(rng.random(table.num_rows) < 0.15)
                table = table.set_column(table.schema.get_field_index("country"), "country",
                                         pc.if_else(moved, pc.take(values, shifted), country))
            order = rng.permutation(table.num_rows)  # every piece spans the whole range of times
            cuts = np.sort(rng.choice(np.arange(1, table.num_rows), pieces - 1, replace=False))
            self.files += [(kind, table.take(pa.array(part))) for part in np.split(order, cuts)]
        first = [self.files.pop(0), self.files.pop(pieces - 1)]  # one of each, so both globs match
        rng.shuffle(self.files)  # type: ignore[arg-type]
        self.files = first + self.files + ([("predictions", repeats)] if dirty else [])
        self.logs = tmp / "logs"
        self.logs.mkdir(exist_ok=True)

    def write(self, index: int) -> Path:
        kind, table = self.files[index]
        path = self.logs / f"{kind}-{index:03d}.parquet"
        pq.write_table(table, path)
        return path


def _look(plan: Plan, arrivals: Arrivals, cache: Path | None, stage: str = "canary", early: timedelta = timedelta(0)
          ) -> dict[str, Any]:
    until = arrivals.end + timedelta(minutes=5) - early  # early: rows after the window's end, counted later
    evaluation = evaluate_stage(plan, plan.stage(stage), until=until, now=arrivals.end + timedelta(minutes=5),
                                cache_dir=cache)
    doc = evaluation.to_json()
    if cache is not None:
        assert evaluation.cache is not None
    return doc


def _parity_run(tmp_path: Path, scenario: str, seed: int, stage: str = "canary", dirty: bool = False) -> list[str]:
    """Every arrival, then a rewrite and a deletion: each look through the cache against a full look."""
    plan = write_plan(tmp_path, predictions=str(tmp_path / "logs" / "predictions*.parquet"),
                      outcomes=str(tmp_path / "logs" / "outcomes*.parquet"))
    arrivals = Arrivals(plan, tmp_path, scenario, seed, dirty=dirty)
    cache = tmp_path / "state"
    cache.mkdir()
    notes: list[str] = []
    units: set[str] = set()  # how the per-unit rows were had (logcache/units.py)
    arrivals.write(0)
    for index in range(1, len(arrivals.files)):
        arrivals.write(index)
        looks = 2 if index % 3 == 0 else 1  # a second look absorbs what the first one read
        for look in range(looks):
            # the window's end moves back and forth: rows after it are left out, then counted
            early = timedelta(hours=(0, 1, 2, 4)[(index + look) % 4]) if index < len(arrivals.files) - 1 else timedelta(0)
            cached = _look(plan, arrivals, cache, stage, early)
            notes.append(str(cached["cache"]["note"] or ""))
            units.update(how.split(" ", 1)[1] if how[0].isdigit() else how for how in cached["cache"]["units"])
            assert_same(_figures(cached), _look(plan, arrivals, None, stage, early), f"{scenario} arrival {index}")
    assert {"units recomputed and kept", "the units of the files not absorbed recomputed for this look",
            "every unit computed (the window ends before the cached one)",
            "data-quality counts counted from the cached rows and kept", "data-quality counts brought up to date",
            "data-quality counts read in full (the window ends before the kept one)"} <= units, units
    if dirty:  # a repeated key sends the look to the exact count
        assert "data-quality counts read in full (a repeated key: counted exactly)" in units, units
    # an absorbed file rewritten with fewer rows, then one deleted: rebuilt, never stale
    kind, table = arrivals.files[2]
    pq.write_table(table.slice(0, table.num_rows // 2), arrivals.logs / f"{kind}-002.parquet")
    os.utime(arrivals.logs / f"{kind}-002.parquet", ns=(0, 0))
    for change in ("rewritten", "deleted"):
        if change == "deleted":
            kind, _ = arrivals.files[3]
            (arrivals.logs / f"{kind}-003.parquet").unlink()
        cached = _look(plan, arrivals, cache, stage)
        assert change in (cached["cache"]["note"] or ""), cached["cache"]
        assert_same(_figures(cached), _look(plan, arrivals, None, stage), f"{scenario} {change}")
        notes.append(cached["cache"]["note"])
        settled = _look(plan, arrivals, cache, stage)  # the rebuilt cache absorbs the files again
        assert settled["cache"]["files_read"] == 0 and not settled["cache"]["note"]
        assert_same(_figures(settled), _figures(cached), f"{scenario} {change}, settled")
    return notes


@pytest.mark.parametrize("scenario, seed, dirty", [("harm", 11, False), ("crossover", 12, True)])
def test_incremental_matches_full_over_arrivals(tmp_path: Path, scenario: str, seed: int, dirty: bool) -> None:
    _parity_run(tmp_path, scenario, seed, dirty=dirty)


@pytest.mark.slow
@pytest.mark.parametrize("scenario, seed", [("healthy", 21), ("segment-harm", 22), ("srm", 23), ("slow", 24),
                                            ("stale", 25)])
def test_incremental_matches_full_every_scenario(tmp_path: Path, scenario: str, seed: int) -> None:
    _parity_run(tmp_path, scenario, seed)


def _settled(tmp_path: Path) -> tuple[Plan, Arrivals, Path]:
    plan = write_plan(tmp_path, predictions=str(tmp_path / "logs" / "predictions*.parquet"),
                      outcomes=str(tmp_path / "logs" / "outcomes*.parquet"))
    arrivals = Arrivals(plan, tmp_path, "healthy", 5, pieces=2)
    for index in range(len(arrivals.files)):
        arrivals.write(index)
    cache = tmp_path / "state"
    cache.mkdir()
    _look(plan, arrivals, cache)
    settled = _look(plan, arrivals, cache)
    assert settled["cache"]["files_cached"] == 4 and settled["cache"]["files_read"] == 0
    return plan, arrivals, cache


def test_damaged_or_foreign_cache_is_rebuilt(tmp_path: Path) -> None:
    import duckdb

    plan, arrivals, cache = _settled(tmp_path)
    full = _figures(_look(plan, arrivals, None))
    con = duckdb.connect(str(cache / CACHE_FILE))
    con.execute("UPDATE meta SET version = 0")
    con.close()
    looked = _look(plan, arrivals, cache)
    assert "another version" in looked["cache"]["note"] and looked["cache"]["files_read"] == 4
    assert_same(_figures(looked), full)
    (cache / CACHE_FILE).write_bytes(b"not a database at all" * 1000)
    looked = _look(plan, arrivals, cache)
    assert "damaged" in looked["cache"]["note"] and looked["cache"]["files_read"] == 4
    assert_same(_figures(looked), full)
    # another plan (a changed guard) never reads this stage's cached state as its own
    changed = write_plan(tmp_path, predictions=str(tmp_path / "logs" / "predictions*.parquet"),
                         outcomes=str(tmp_path / "logs" / "outcomes*.parquet"),
                         decision="{confidence: 90%}")
    looked = _look(changed, arrivals, cache)
    assert looked["cache"]["files_read"] == 4 and looked["cache"]["files_cached"] == 0


def test_damaged_per_unit_rows_are_computed_again(tmp_path: Path) -> None:
    """Kept per-unit rows that cannot be read, or kept for another statement, are never believed."""
    import duckdb

    plan, arrivals, cache = _settled(tmp_path)
    full = _figures(_look(plan, arrivals, None))
    con = duckdb.connect(str(cache / CACHE_FILE))
    assert con.execute("SELECT count(*) FROM unit_rows").fetchall()[0][0] > 0
    con.execute("ALTER TABLE unit_rows RENAME TO gone")  # the meta still says they are kept
    con.close()
    looked = _look(plan, arrivals, cache)
    assert any("could not be used" in how for how in looked["cache"]["units"]), looked["cache"]
    assert_same(_figures(looked), full)
    again = _look(plan, arrivals, cache)
    assert "every unit computed from the cached rows and kept" in again["cache"]["units"]
    assert_same(_figures(again), full)
    con = duckdb.connect(str(cache / CACHE_FILE))  # the ranked answers kept beside them (logcache/answers.py)
    assert con.execute("SELECT count(*), count(*) FILTER (WHERE k = 1) FROM unit_answers").fetchall()[0][1] > 0
    con.execute("DROP TABLE unit_answers")
    con.close()
    looked = _look(plan, arrivals, cache)
    assert any("could not be used" in how for how in looked["cache"]["units"]), looked["cache"]
    assert_same(_figures(looked), full)
    assert "every unit computed from the cached rows and kept" in _look(plan, arrivals, cache)["cache"]["units"]
    con = duckdb.connect(str(cache / CACHE_FILE))
    con.execute("UPDATE unit_meta SET shape = 'another statement'")  # e.g. kept by an older build
    con.close()
    looked = _look(plan, arrivals, cache)
    assert "every unit computed from the cached rows and kept" in looked["cache"]["units"]
    assert_same(_figures(looked), full)
    con = duckdb.connect(str(cache / CACHE_FILE))  # kept sums gone (logcache/sums.py): computed again
    con.execute("DROP TABLE unit_rows_sums")
    con.close()
    looked = _look(plan, arrivals, cache)
    assert any("could not be used" in how for how in looked["cache"]["units"]), looked["cache"]
    assert_same(_figures(looked), full)
    assert_same(_figures(_look(plan, arrivals, cache)), full)
    con = duckdb.connect(str(cache / CACHE_FILE))  # value counts that disagree with the rows: said, then rebuilt
    con.execute("UPDATE unit_answers_sums SET n = n + 1000 WHERE b = (SELECT max(b) FROM unit_answers_sums)")
    con.close()
    with pytest.raises(DataError, match="disagree"):
        _look(plan, arrivals, cache)
    looked = _look(plan, arrivals, cache)
    assert "every unit computed from the cached rows and kept" in looked["cache"]["units"]
    assert_same(_figures(looked), full)
    con = duckdb.connect(str(cache / CACHE_FILE))  # the kept data-quality counts (logcache/quality.py)
    con.execute("DROP TABLE quality_keys")
    con.close()
    looked = _look(plan, arrivals, cache)
    assert any(how.startswith("data-quality counts the kept counts could not be used") for how in looked["cache"]["units"])
    assert_same(_figures(looked), full)
    again = _look(plan, arrivals, cache)
    assert "data-quality counts counted from the cached rows and kept" in again["cache"]["units"]
    assert_same(_figures(again), full)


HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)"


def test_a_cache_in_use_by_another_process_is_not_used(tmp_path: Path) -> None:
    plan, arrivals, cache = _settled(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(cache / CACHE_FILE)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        looked = _look(plan, arrivals, cache)
        assert looked["cache"]["mode"] == "full" and "another process" in looked["cache"]["note"]
        assert_same(_figures(looked), _figures(_look(plan, arrivals, None)))
    finally:
        holder.kill()
        holder.wait()


def test_evaluate_full_flag_reads_every_file(tmp_path: Path) -> None:
    plan, arrivals, cache = _settled(tmp_path)
    from rollout_cli.state.store import StateStore

    StateStore.open(cache).close()  # the state exists: the command uses the cache beside it
    env = {k: v for k, v in os.environ.items() if k != "ROLLOUT_EVALUATION_CACHE"}  # on unless turned off
    env["ROLLOUT_NOW"] = (arrivals.end + timedelta(minutes=5)).isoformat()
    base = [sys.executable, "-m", "rollout_cli", "evaluate", str(plan.source), "--stage", "canary",
            "--state-dir", str(cache), "--json"]
    cached = subprocess.run(base, capture_output=True, text=True, env=env, check=False)
    full = subprocess.run([*base, "--full"], capture_output=True, text=True, env=env, check=False)
    assert cached.returncode == full.returncode and cached.returncode in (0, 1, 3), cached.stderr
    cached_doc, full_doc = json.loads(cached.stdout), json.loads(full.stdout)
    # the same plan has the same key in another process: the files cached above are not read again
    assert cached_doc["cache"]["files_cached"] == 4 and "cache" not in full_doc
    assert_same(_figures(cached_doc), _figures(full_doc))
    off = subprocess.run(base, capture_output=True, text=True, env={**env, "ROLLOUT_EVALUATION_CACHE": "0"}, check=False)
    assert "cache" not in json.loads(off.stdout)  # turned off: every file is read


def _new_file(arrivals: Arrivals, kind: str, select: str) -> Path:
    """A new file of `kind` after the cached ones: `select` over one of its pieces (`piece` in the statement)."""
    import duckdb

    path = arrivals.logs / f"{kind}-zz-new.parquet"
    con = duckdb.connect()
    con.register("piece", next(t for k, t in arrivals.files if k == kind))
    con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def _both_ways(plan: Plan, arrivals: Arrivals, cache: Path) -> tuple[str, str]:
    """The DataError message of a look through the cache and of a full look (each must refuse)."""
    messages = []
    for where in (cache, None):
        with pytest.raises(DataError) as caught:
            _look(plan, arrivals, where)
        messages.append(caught.value.message)
    return messages[0], messages[1]


@pytest.mark.parametrize("kind, column", [("predictions", "error"), ("outcomes", "value")])
def test_a_new_file_without_a_column_is_refused_cached_or_not(tmp_path: Path, kind: str, column: str) -> None:
    plan, arrivals, cache = _settled(tmp_path)
    path = _new_file(arrivals, kind, f"SELECT * EXCLUDE ({column}) FROM piece")
    for look in ("read as new", "settled"):  # never absorbed with the column filled with NULL
        cached, full = _both_ways(plan, arrivals, cache)
        assert cached == full, look
        assert f"column '{column}'" in cached and str(path) in cached, cached


@pytest.mark.parametrize("values", ["CAST(error AS INTEGER)::VARCHAR", "CASE WHEN error THEN 'yes' ELSE 'no' END"])
def test_a_new_file_with_a_column_of_another_type_gets_the_full_verdict(tmp_path: Path, values: str) -> None:
    plan, arrivals, cache = _settled(tmp_path)
    _new_file(arrivals, "predictions", f"SELECT * REPLACE ({values} AS error) FROM piece")
    for look in ("read as new", "settled"):
        outcomes = []
        for where in (cache, None):
            try:
                outcomes.append(_figures(_look(plan, arrivals, where)))
            except DataError as error:
                outcomes.append(error.message)
        assert_same(outcomes[0], outcomes[1], look)


def test_a_flag_holding_other_values_is_refused_through_the_cache(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, predictions=str(tmp_path / "logs" / "predictions*.parquet"),
                      outcomes=str(tmp_path / "logs" / "outcomes*.parquet"))
    arrivals = Arrivals(plan, tmp_path, "healthy", 5, pieces=2)
    arrivals.files = [(k, t.set_column(t.schema.get_field_index("error"), "error", pc.cast(t.column("error"), pa.int64())))
                      if k == "predictions" else (k, t) for k, t in arrivals.files]  # errors as 0/1 numbers
    for index in range(len(arrivals.files)):
        arrivals.write(index)
    cache = tmp_path / "state"
    cache.mkdir()
    for _ in range(2):  # read, then absorbed: 0 and 1 are false and true, with the cache or not
        assert_same(_figures(_look(plan, arrivals, cache)), _figures(_look(plan, arrivals, None)))
    path = _new_file(arrivals, "predictions", "SELECT * REPLACE (CASE WHEN arm = 'candidate' THEN 2 ELSE error END "
                                              "AS error) FROM piece")
    for look in ("read as new", "settled"):
        cached, full = _both_ways(plan, arrivals, cache)
        assert cached == full, look
        assert "column 'error' in predictions" in cached and f"(2), in {path}" in cached, cached
