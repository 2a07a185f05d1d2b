"""`stable_hash` (data/stable_hash.py): DuckDB's own hash on both engines — the bits the shadow
comparison reads from it are the same on Spark, the function Spark's workers run needs DuckDB but
not rollout, and a worker whose DuckDB hashes differently is refused in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from rollout_cli.data import stable_hash
from rollout_cli.data.engine import DuckDBEngine
from rollout_cli.data.source import connect
from rollout_cli.data.spark import SparkEngine
from rollout_cli.data.transpile import spark_statement
from rollout_cli.errors import DataError

# what the shadow comparison reads: a unit's random group and counting slot, the examples' order
BITS = ("SELECT {x} AS id, stable_hash({x}) & 1023 AS grp, CAST((stable_hash({x}) >> 56) & 255 AS INTEGER) AS slot, "
        "(stable_hash({x}) >> 32) & 4294967295 AS high, stable_hash({x}) & 4294967295 AS low FROM ids ORDER BY 1")


def _ids(tmp_path: Path) -> Path:
    """2,000 ids in three types, with NULLs, as one parquet file both engines read."""
    path = tmp_path / "ids.parquet"
    with duckdb.connect() as con:
        con.execute("COPY (SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE 'user-' || i END AS s, CAST(i AS INTEGER) AS i32, "
                    "i * 1000003 AS i64 FROM range(2000) r(i)) TO ? (FORMAT parquet)", [str(path)])
    return path


@pytest.mark.parametrize("column", ["s", "i32", "i64"])
def test_the_bits_the_shadow_comparison_reads_are_duckdbs_on_spark(column: str, spark: Any, tmp_path: Path) -> None:
    path = _ids(tmp_path)
    sql = BITS.format(x=column)
    con = connect()
    con.execute(f"CREATE VIEW ids AS SELECT * FROM read_parquet('{path}')")  # a view cannot take a parameter
    _, duck = DuckDBEngine(con).run(sql, {})
    spark.read.parquet(str(path)).createOrReplaceTempView("ids")
    engine = SparkEngine(spark)
    try:
        _, on = engine.run(sql, {})
    finally:
        engine.close()
        spark.catalog.dropTempView("ids")
    assert len(duck) == 2000 and len({row[1] for row in duck}) > 800  # spread over the groups
    assert on == duck


def test_a_statement_says_it_needs_stable_hash_and_hash_stays_the_engines_own() -> None:
    needs = spark_statement("SELECT stable_hash(u) & 1023, hash(r) FROM t", {})
    assert needs.stable_hash and "xxhash64(r)" in needs.sql.lower()
    assert not spark_statement("SELECT count(DISTINCT hash(r)) FROM t", {}).stable_hash


def _run_isolated(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """`body` in `python -I` with rollout made unimportable (it may be installed here; a cluster's workers
    need not have it); the pickled worker function is in the file `fn.pickle`."""
    from pyspark import cloudpickle

    with duckdb.connect() as con:
        expected = stable_hash.probe(con)
    (tmp_path / "fn.pickle").write_bytes(cloudpickle.dumps(stable_hash.worker_function(duckdb.__version__, expected)))
    script = ("import pickle, sys\nsys.modules['rollout_cli'] = None  # any import of it now fails\n" + body +
              "\nfn = pickle.loads(open('fn.pickle', 'rb').read())\n"
              "import pyarrow as pa\n"
              "print(fn(pa.array(['user-1', None, 'user-2'])).to_pylist())\n")
    return subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)


def test_the_workers_need_duckdb_not_rollout(tmp_path: Path) -> None:
    done = _run_isolated(tmp_path, "")
    assert done.returncode == 0, done.stderr
    with duckdb.connect() as con:
        unsigned = con.execute("SELECT hash(x) FROM (VALUES ('user-1'), (NULL), ('user-2')) t(x)").fetchall()
    assert done.stdout.strip() == str([h - 2 ** 64 if h >= 2 ** 63 else h for (h,) in unsigned])


def test_a_worker_without_duckdb_is_refused_naming_what_to_install(tmp_path: Path) -> None:
    done = _run_isolated(tmp_path, "sys.modules['duckdb'] = None  # as if not installed")
    assert done.returncode == 1
    assert (f"RuntimeError: stable_hash refused: Spark's Python workers cannot import duckdb; install "
            f"duckdb=={duckdb.__version__} there") in done.stderr


def test_a_worker_whose_duckdb_hashes_differently_is_refused_in_one_line(spark: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the workers' DuckDB were another version: the driver's probe values differ from theirs."""
    monkeypatch.setattr(stable_hash, "probe", lambda con: (1, 2, 3, 4))
    engine = SparkEngine(spark)
    try:
        with pytest.raises(DataError) as caught:
            engine.run("SELECT sum(stable_hash(k) & 1) FROM (VALUES (1), (2)) AS t(k)", {})
    finally:
        engine.close()
    assert caught.value.message == (
        f"reading the logs on Spark failed: stable_hash refused: DuckDB {duckdb.__version__} on Spark's Python "
        f"workers hashes differently from DuckDB {duckdb.__version__} here; install duckdb=={duckdb.__version__} there")
