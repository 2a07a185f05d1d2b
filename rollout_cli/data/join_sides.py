"""Which side of the main statement's outcome join DuckDB builds its hash table on.

The per-unit relation joins the outcome rows (data/queries.py). DuckDB builds the hash table on the
side it estimates smaller, and it estimates a `GROUP BY unit` far below what it yields (240,000
units for 2,000,000 at 2M units), so it builds on the units even where the outcome rows are a tenth
as many: at 20M units the join then costs 3.0 CPU s instead of 1.0, and the statement 1–2 s of wall
time (benchmarks/README.md). When the files' own row counts show the outcomes to be fewer than half
the prediction rows (a unit is at most all of its rows, and the outcomes read are at most all of
theirs), the statement runs with DuckDB's build-side swap off, so every join builds on its right
side as written: the outcome rows, the outcome units, the segment values' short lists. Elsewhere
(more outcomes, or logs that are not parquet) DuckDB chooses as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rollout_cli.data.source import BoundSource, Logs, SqlParams
from rollout_cli.errors import DataError

SWAP = "build_side_probe_side"  # DuckDB's optimizer that picks the build side by its estimates


def _parquet_rows(logs: Logs, source: BoundSource) -> int | None:
    """The rows of a parquet source from its files' footers, or None (another format, unreadable)."""
    files = source.parquet_files
    if files is None or logs.engine_name != "duckdb":
        return None
    params = SqlParams()
    try:
        found = logs.query(f"SELECT sum(num_rows) FROM parquet_file_metadata({params.add(files)})", params)
    except DataError:
        return None
    return None if found[0][0] is None else int(found[0][0])


def outcomes_build(logs: Logs) -> bool:
    """Whether the outcome join should build on the outcome rows: fewer than half the prediction rows."""
    if logs.outcomes is None:
        return False
    outcomes, predictions = _parquet_rows(logs, logs.outcomes), _parquet_rows(logs, logs.predictions)
    return outcomes is not None and predictions is not None and 2 * outcomes < predictions


@contextmanager
def as_written(logs: Logs, enabled: bool) -> Iterator[None]:
    """With `enabled`, the statements inside build every join on its right side (the swap is off)."""
    if not enabled:
        yield
        return
    logs.connection.execute(f"SET disabled_optimizers = '{SWAP}'")
    try:
        yield
    finally:
        logs.connection.execute("RESET disabled_optimizers")
