"""`stable_hash(x)`: DuckDB's 64-bit `hash(x)`, the same value on every engine (docs/spark.md, "Parity").

Contract:
- A statement (written once, in DuckDB's SQL) calls `stable_hash(x)` where a figure rests on the
  hash's value itself: the random group and counting slot of a unit (the shadow comparison's
  always-valid intervals and unit counts, docs/statistics.md), the order in which disagreeing
  examples are picked. Where a hash only stands for its argument (equal ids join, a distinct count
  that an exact count verifies) it calls `hash(x)`, which each engine computes its own, fastest way
  (Spark: `xxhash64`, data/transpile.py).
- DuckDB: `MACRO`, a temporary macro every connection defines (data/source.py `connect`): exactly
  `hash(x)`, at no cost.
- Spark: `register(session)` registers `stable_hash` as a vectorised Arrow function that hashes each
  batch with DuckDB itself in Spark's Python workers — the same value by construction. DuckDB's
  hash is an unsigned 64-bit number (UBIGINT) and Spark has none: the function returns the same 64
  bits as Spark's signed BIGINT (two's complement). Statements therefore read only its bits (`& m`,
  `(h >> n) & m`), on which the two agree — never `%`, `<`, ORDER BY or the sign of the value itself.
- Each worker hashes `PROBE` before its first batch and compares with the values this process's
  DuckDB gave: a worker whose DuckDB hashes differently (another version), or that has no DuckDB,
  fails the statement with a message starting `REFUSED`, naming both versions (data/spark.py turns
  it into a DataError). The function is built in a closure, so it is pickled by value: the workers
  need duckdb, pyarrow and numpy, not rollout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAME = "stable_hash"
MACRO = f"CREATE OR REPLACE TEMP MACRO {NAME}(x) AS hash(x)"
# a text, an integer (every integer type hashes alike), a NULL, a double: what unit and request ids are
PROBE = "SELECT hash('rollout-probe'), hash(42), hash(CAST(NULL AS VARCHAR)), hash(-1.5)"
REFUSED = "stable_hash refused:"


def probe(connection: Any) -> tuple[int, ...]:
    """This DuckDB's hashes of the probe values."""
    return tuple(int(v) for v in connection.execute(PROBE).fetchall()[0])


def worker_function(version: str, expected: tuple[int, ...]) -> Callable[[Any], Any]:
    """The function Spark's workers run on each batch (a pyarrow Array in, int64 Array out), checking
    the worker's DuckDB against `expected` (the driver's `probe`) once per task."""
    probe_sql, refused = PROBE, REFUSED
    state: dict[str, Any] = {}  # pickled empty: one DuckDB connection per task, reused across its batches

    def stable_hash(values: Any) -> Any:
        import numpy as np
        import pyarrow as pa

        con = state.get("con")
        if con is None:
            try:
                import duckdb
            except ImportError:
                raise RuntimeError(f"{refused} Spark's Python workers cannot import duckdb; install duckdb=={version} "
                                   "there (the shadow comparison hashes ids with DuckDB's hash)") from None
            con = duckdb.connect(config={"threads": 1})  # one core per task: Spark runs the tasks in parallel
            found = tuple(int(v) for v in con.execute(probe_sql).fetchall()[0])
            if found != expected:
                raise RuntimeError(f"{refused} DuckDB {duckdb.__version__} on Spark's Python workers hashes "
                                   f"differently from DuckDB {version} here; install duckdb=={version} there")
            state["con"] = con
        hashed = con.from_arrow(pa.table({"x": values})).select("hash(x)").fetchnumpy()
        unsigned = np.asarray(next(iter(hashed.values())), dtype=np.uint64)
        return pa.array(unsigned.view(np.int64))  # the same 64 bits, read as Spark's signed BIGINT

    return stable_hash


def register(session: Any) -> None:
    """Register `stable_hash` on a Spark session (local or Spark Connect) for this process's DuckDB."""
    import duckdb
    import pyarrow as pa
    from pyspark.sql.functions import arrow_udf

    with duckdb.connect() as con:
        expected = probe(con)
    function = worker_function(duckdb.__version__, expected)
    function.__annotations__ = {"values": pa.Array, "return": pa.Array}  # how Spark tells an array-to-array function
    vectorised: Any = arrow_udf  # its overloads want the array type hints Spark reads at run time (set above)
    session.udf.register(NAME, vectorised(function, "long"))
