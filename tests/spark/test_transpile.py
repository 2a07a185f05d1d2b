"""The rewrite table of data/transpile.py: each DuckDB construct the evaluator uses gives the same
result on Spark as on DuckDB, on small literal tables; parameters stay values, never SQL."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import duckdb
import pytest

from rollout_cli.data.transpile import to_spark

VALUES = "(VALUES (1, 'a', 1.0), (2, 'a', 2.5), (3, 'b', 'NaN'::DOUBLE), (4, 'b', 'Infinity'::DOUBLE), " \
         "(5, 'b', NULL), (6, 'c', 7.25), (7, 'c', -3.0)) AS t(k, g, x)"


def both(spark: Any, sql: str, params: dict[str, Any] | None = None) -> tuple[list[tuple], list[tuple]]:
    params = params or {}
    with duckdb.connect() as con:
        duck = [tuple(r) for r in con.execute(sql, params).fetchall()]
    on = [tuple(r) for r in spark.sql(to_spark(sql, params)).collect()]
    return duck, on


def same(a: Any, b: Any, rel: float = 0.0) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=0.0) or a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y, rel) for x, y in zip(a, b))
    return bool(a == b)


def test_union_all_by_name_becomes_positional_with_nulls_for_missing_columns(spark: Any) -> None:
    sql = ("WITH t AS (SELECT * FROM " + VALUES + ") SELECT 'sums' AS part, g, sum(k) AS n FROM t GROUP BY g "
           "UNION ALL BY NAME SELECT 'count' AS part, count(*) AS c FROM t "
           "UNION ALL BY NAME SELECT 'max' AS part, g, max(k) AS n, 1 AS c FROM t GROUP BY g")
    duck, on = both(spark, sql)
    assert sorted(duck, key=str) == sorted(on, key=str) and len(duck) == 7


def test_quantile_cont_is_spark_percentile_exact_at_ranks_and_to_the_last_bit_between(spark: Any) -> None:
    """At a level that is an exact rank both return that order statistic itself; between two,
    DuckDB interpolates lo + d·(hi − lo) and Spark (1 − d)·lo + d·hi: equal but for the last bit."""
    sql = ("SELECT g, quantile_cont(x, $q) AS one, quantile_cont(x, $levels) AS many, "
           "quantile_cont(k, $levels) FILTER (WHERE k > $low) AS filtered "
           f"FROM (SELECT * FROM {VALUES} WHERE isfinite(x)) GROUP BY g ORDER BY g")
    duck, on = both(spark, sql, {"q": 0.99, "levels": [0.5, 0.9871234567, 0.01, 1.0], "low": 1})
    assert same(duck, on, rel=4e-16), (duck, on)
    def numbers(n: int) -> str:
        return "(VALUES " + ", ".join(f"({i})" for i in range(n)) + ") AS r(id)"

    ranks = (f"SELECT quantile_cont(v, $levels) FROM (SELECT CAST(id AS DOUBLE) * 1.37 AS v FROM {numbers(101)}) "
             f"UNION ALL SELECT quantile_cont(v, $levels) FROM (SELECT CAST(id AS DOUBLE) * 0.1 AS v FROM {numbers(11)})")
    duck, on = both(spark, ranks, {"levels": [0.0, 0.25, 0.5, 0.99, 1.0]})
    assert same(duck, on), (duck, on)  # exact ranks: exactly the same values


def test_a_quantile_of_the_finite_values_leaves_nan_and_infinity_out_on_both(spark: Any) -> None:
    """The light scan reads quantiles of `CASE WHEN isfinite(x) THEN x END`: the isfinite inside the
    quantile's argument is rewritten too."""
    sql = f"SELECT quantile_cont(CASE WHEN isfinite(CAST(x AS DOUBLE)) THEN x END, $levels) FILTER (WHERE k > 0) FROM {VALUES}"
    duck, on = both(spark, sql, {"levels": [0.0, 0.5, 1.0]})
    assert same(duck, on), (duck, on)


def test_isfinite_keeps_null_null_and_flags_nan_and_infinity(spark: Any) -> None:
    sql = (f"SELECT k, isfinite(x), CASE WHEN isfinite(CAST(x AS DOUBLE)) THEN x END, "
           f"coalesce(NOT isfinite(CAST(x AS DOUBLE)), false) FROM {VALUES} ORDER BY k")
    duck, on = both(spark, sql)
    assert same(duck, on), (duck, on)


def test_arg_min_to_seconds_filters_and_timestamps(spark: Any) -> None:
    sql = ("SELECT g, arg_min(k, ts) AS first_k, count(*) FILTER (WHERE ts <= $until) AS early, "
           "max(ts) + to_seconds($window) AS reach "
           "FROM (SELECT *, TIMESTAMP '2026-01-05 00:00:00' + to_seconds(k * 60) AS ts FROM "
           f"{VALUES}) GROUP BY g ORDER BY g")
    duck, on = both(spark, sql, {"until": datetime(2026, 1, 5, 0, 3), "window": 3600.5})
    assert duck == on


def test_corr_is_nan_without_variance_and_null_without_pairs_as_on_duckdb(spark: Any) -> None:
    sql = ("SELECT g, corr(x, y) AS c, corr(x, y) FILTER (WHERE k > $k) AS late FROM (VALUES (1, 'one', 1.0, 2.0), "
           "(2, 'flat', 1.0, 2.0), (3, 'flat', 1.0, 3.0), (4, 'none', 1.0, NULL), (5, 'line', 1.0, 2.0), "
           "(6, 'line', 2.0, 3.5), (7, 'line', 4.0, 3.0)) AS t(k, g, x, y) GROUP BY g ORDER BY g")
    duck, on = both(spark, sql, {"k": 5})
    assert same(duck, on, rel=1e-15), (duck, on)
    assert [(g, c is None or math.isnan(c)) for g, c, _ in on] == [("flat", True), ("line", False), ("none", True),
                                                                   ("one", True)]


def test_a_hash_screen_counts_the_same_distinct_keys_with_a_64_bit_hash_on_both(spark: Any) -> None:
    """200,000 distinct keys: Spark's 32-bit `hash` would collide several times (≈5 expected); the
    64-bit xxhash64 it is rendered as does not, so the duplicate screen is exact on both engines."""
    sql = ("SELECT count(*) - count(DISTINCT hash(id, id % 7)) FROM "
           "(SELECT id FROM ids UNION ALL SELECT 5 UNION ALL SELECT 17)")
    assert "xxhash64" in to_spark(sql, {}).lower()
    with duckdb.connect() as con:
        con.execute("CREATE TABLE ids AS SELECT range AS id FROM range(200000)")
        duck = con.execute(sql).fetchall()
    spark.range(200000).createOrReplaceTempView("ids")
    try:
        on = [tuple(r) for r in spark.sql(to_spark(sql, {})).collect()]
        collisions = spark.sql("SELECT count(*) - count(DISTINCT hash(id, id % 7)) FROM ids").collect()[0][0]
    finally:
        spark.catalog.dropTempView("ids")
    assert duck == on == [(2,)]
    assert collisions > 0  # what the 32-bit hash would have reported as duplicates


def test_a_parameter_is_a_value_never_sql(spark: Any) -> None:
    hostile = "x' OR 1=1 --\\' ; DROP TABLE t"
    duck, on = both(spark, "SELECT $v AS v, $n AS n, $l AS l", {"v": hostile, "n": None, "l": ["a'", "b"]})
    assert duck == on == [(hostile, None, ["a'", "b"])]


def test_an_unbound_placeholder_is_a_bug_said_as_such() -> None:
    with pytest.raises(ValueError, match=r"placeholder \$p1 has no value"):
        to_spark("SELECT $p0, $p1", {"p0": 1})


def test_a_temporary_table_is_a_cached_view_and_a_delete_keeps_what_duckdb_keeps(spark: Any) -> None:
    """`CREATE TEMP TABLE … AS`, `DELETE FROM … WHERE` (a NULL condition keeps the row, as on DuckDB)
    and the reads after them give DuckDB's rows; the table belongs to its engine and goes with it."""
    from rollout_cli.data.engine import DuckDBEngine
    from rollout_cli.data.spark import SparkEngine
    from rollout_cli.errors import DataError

    statements = [("CREATE OR REPLACE TEMP TABLE pairs AS SELECT k, g, x, hash(g) AS h FROM " + VALUES, {}),
                  ("DELETE FROM pairs WHERE x > $cut OR g = 'c'", {"cut": 2.0}),
                  (("SELECT p.k, p.g, p.x, q.n FROM pairs p JOIN (SELECT g, count(*) AS n FROM pairs GROUP BY g) q "
                    "ON p.g = q.g ORDER BY p.k"), {})]
    with duckdb.connect() as con:
        duck_engine = DuckDBEngine(con)
        duck = [duck_engine.run(sql, params) for sql, params in statements]
    engine, other = SparkEngine(spark), SparkEngine(spark)
    try:
        on = [engine.run(sql, params) for sql, params in statements]
        with pytest.raises(DataError, match="TABLE_OR_VIEW_NOT_FOUND"):
            other.run("SELECT count(*) FROM pairs", {})  # another engine on the session never sees it
        view = engine.tables["pairs"]
        assert spark.catalog.isCached(view)
    finally:
        engine.close()
        other.close()
    # NaN > 2 and ∞ > 2 on both engines; a NULL x with g = 'b' leaves the condition NULL: kept
    assert [rows for _, rows in duck[:2]] == [[(7,)], [(5,)]]  # rows created, rows deleted
    assert on[0][1] == [(7,)]  # created: its row count (the DELETE reports what is left, not what went)
    assert same(duck[2][1], on[2][1]) and [row[0] for row in on[2][1]] == [1, 5], (duck[2], on[2])
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("rollout_pairs")]


def test_the_shadow_comparisons_constructs_give_duckdbs_results(spark: Any) -> None:
    """What the shadow scans use and sqlglot renders by itself: list_contains, date_trunc, ntile,
    try_cast, GROUPING SETS with GROUPING(), scalar subqueries, a FULL JOIN, corr and var_samp."""
    rows = ("(VALUES (1, 'a', '0.5', TIMESTAMP '2026-01-05 00:00:10'), (2, 'a', 'x', TIMESTAMP '2026-01-05 00:00:50'), "
            "(3, 'b', '1e3', TIMESTAMP '2026-01-05 00:01:05'), (4, 'b', NULL, TIMESTAMP '2026-01-05 00:02:00'), "
            "(5, 'c', '2', TIMESTAMP '2026-01-05 00:02:30')) AS t(k, g, v, ts)")
    sql = (f"WITH t AS (SELECT * FROM {rows}), "
           "m AS (SELECT date_trunc('minute', ts) AS minute, count(*) AS load FROM t GROUP BY 1), "
           "r AS (SELECT minute, load, ntile(2) OVER (ORDER BY load, minute) AS bucket FROM m) "
           "SELECT r.bucket, count(DISTINCT r.minute) AS minutes, count(try_cast(t.v AS DOUBLE)) AS numbers, "
           "sum(CASE WHEN list_contains($thin, least(CAST(floor(k / $w) AS INTEGER), 1)) THEN 1 ELSE 0 END) AS thin, "
           "(SELECT count(*) FROM t WHERE g = 'a') AS a_rows "
           "FROM t JOIN r ON date_trunc('minute', t.ts) = r.minute GROUP BY r.bucket ORDER BY r.bucket")
    duck, on = both(spark, sql, {"thin": [0], "w": 2.5})
    assert duck == on and len(on) == 2, (duck, on)
    grouped = (f"WITH t AS (SELECT k, g, CAST(k AS DOUBLE) * 1.5 AS x, CAST(k * k AS DOUBLE) AS y FROM {rows}) "
               "SELECT sum(x) AS sx, g, GROUPING(g) AS gg, corr(x, y) AS c, var_samp(y) AS v FROM t "
               "GROUP BY GROUPING SETS ((), (g)) ORDER BY gg, g")
    duck, on = both(spark, grouped)
    assert same(duck, on, rel=1e-12) and len(on) == 4, (duck, on)
    joined = (f"WITH t AS (SELECT * FROM {rows}) SELECT b.k, c.k, coalesce(c.paired AND b.k IS NOT NULL, false) "
              "FROM (SELECT k FROM t WHERE g <> 'c') b FULL JOIN (SELECT k + 1 AS k, true AS paired FROM t) c "
              "ON b.k = c.k ORDER BY b.k NULLS LAST, c.k")
    duck, on = both(spark, joined)
    assert duck == on, (duck, on)


def test_a_statement_describes_its_columns_with_duckdbs_type_names(spark: Any) -> None:
    """`EngineConnection` reads as DuckDB's cursor does, column types included (a scan may ask
    whether an expression is a condition before it counts or sums it)."""
    from rollout_cli.data.engine import DuckDBEngine, EngineConnection
    from rollout_cli.data.spark import SparkEngine

    sql = ("SELECT k > $k AS flag, CAST(x AS DOUBLE) AS x, g, CAST(k AS BIGINT) AS big, "
           f"TIMESTAMP '2026-01-05 00:00:00' AS ts FROM {VALUES} LIMIT 0")
    with duckdb.connect() as con:
        duck = EngineConnection(DuckDBEngine(con)).execute(sql, {"k": 2}).description
    engine = SparkEngine(spark)
    try:
        on = EngineConnection(engine).execute(sql, {"k": 2}).description
    finally:
        engine.close()
    assert [d[:2] for d in duck] == [d[:2] for d in on] == [
        ("flag", "BOOLEAN"), ("x", "DOUBLE"), ("g", "VARCHAR"), ("big", "BIGINT"), ("ts", "TIMESTAMP")]
