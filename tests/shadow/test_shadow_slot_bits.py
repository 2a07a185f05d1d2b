"""The unit counts and group totals of `shadow.scans.unit_sums` do not depend on how the slot bits
are held: one bit string (DuckDB) or eight 32-bit words (Spark, which has no bit strings) — and the
conditions counted back from the cells' state bits equal the plain filtered counts."""

from __future__ import annotations

import duckdb
import numpy as np

from rollout_cli.data.engine import DuckDBEngine, EngineConnection
from rollout_cli.shadow import scans


class _Words(DuckDBEngine):
    name = "words"  # any engine but DuckDB gets the 32-bit words


def _pairs(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""CREATE TEMP TABLE pairs AS
        SELECT hash(i % 5000) AS unit, ['a', 'b', 'c'][1 + i % 3] AS s0, i % 10 <> 0 AS paired,
               i % 7 = 0 AS late, CASE WHEN i % 11 = 0 THEN NULL ELSE 40 + i % 13 END AS lat
        FROM range(60000) t(i)""")


RATIOS = {"cover": ("paired", "1"), "late": ("paired AND late", "paired"),
          "lat": ("CASE WHEN paired THEN coalesce(lat, 0) ELSE 0 END", "paired AND lat IS NOT NULL")}


def test_the_bit_string_and_the_words_count_the_same_units_and_the_states_the_same_requests() -> None:
    con = duckdb.connect()
    _pairs(con)
    by_string = scans.unit_sums(EngineConnection(DuckDBEngine(con)), ("s0",), RATIOS, {})
    by_words = scans.unit_sums(EngineConnection(_Words(con)), ("s0",), RATIOS, {})
    assert set(by_string) == set(by_words) == {None, ("s0", "a"), ("s0", "b"), ("s0", "c")}
    for population, ratios in by_string.items():
        for name, sums in ratios.items():
            other = by_words[population][name]
            assert (sums.n, sums.sx, sums.sy) == (other.n, other.sx, other.sy)
            assert np.array_equal(sums.x, other.x) and np.array_equal(sums.y, other.y)
    whole = by_string[None]
    assert 4900 <= whole["cover"].n <= 5100  # 5,000 units by linear counting
    expected = con.execute("SELECT count(*) FILTER (WHERE paired), count(*) FILTER (WHERE paired AND late),"
                           " sum(CASE WHEN paired THEN coalesce(lat, 0) ELSE 0 END),"
                           " count(*) FILTER (WHERE paired AND lat IS NOT NULL) FROM pairs").fetchone()
    assert (whole["cover"].sx, whole["cover"].sy) == (expected[0], 60000)
    assert (whole["late"].sx, whole["lat"].sx, whole["lat"].sy) == (expected[1], expected[2], expected[3])
    part = by_string[("s0", "b")]
    assert part["cover"].sy == 20000 and part["cover"].sx == con.execute(
        "SELECT count(*) FROM pairs WHERE s0 = 'b' AND paired").fetchone()[0]
