"""The engine boundary: where a metric statement runs (docs/spark.md).

Every statement is written once, in DuckDB's SQL with `$name` parameters (data/queries.py,
data/scans.py, data/quality.py, drift/queries.py). An engine runs one such statement over the
plan's bound sources and returns only its (small) result rows:

- `DuckDBEngine`: the embedded connection, as always (the default, `data.engine: duckdb`);
- `SparkEngine` (data/spark.py): the same statement rendered for Spark SQL by data/transpile.py,
  run where the data are, only the aggregated rows collected.

`rows_returned` counts what came back to the CLI: the result size is bounded by arms × segment
values × metrics, never by the number of units (tests/spark/test_parity.py asserts it).

`EngineConnection(engine).execute(sql, params)` offers an engine as DuckDB's connection is read
(`description`, `fetchone`, `fetchall`): the shadow comparison (rollout_cli/shadow/) runs its
statements, its temporary `pairs` table included, on either engine through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb

from rollout_cli.errors import DataError


class QueryEngine(Protocol):
    name: str
    rows_returned: int
    values_returned: int
    last_types: list[str]  # the DuckDB type names of the last statement's columns

    def run(self, sql: str, params: Mapping[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The statement's column names and rows. Raises DataError with the engine's own reason."""
        ...

    def close(self) -> None:
        ...


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def missing_from_file(column: str, path: str, first: str) -> str:
    """The message for a log file without a column that the source's first file has."""
    return f"column '{column}' is missing from the log file {path} (the first file, {first}, has it)"


# DuckDB's words for a file without a column the first file of its glob has
_MISSING_IN_FILE = re.compile(r'column "(.+)" was read from the original file "(.+)", but could not be found in '
                              r'file "(.+)"\.')


MISSING_HINT = "every file of a source needs the columns of its first file"


def _refusal(error: duckdb.Error) -> DataError:
    found = _MISSING_IN_FILE.search(first_line(error))
    if found:
        return DataError(missing_from_file(found[1], found[3], found[2]), hint=MISSING_HINT)
    return DataError(f"reading the logs failed: {first_line(error)}")


class DuckDBEngine:
    """Statements on the embedded DuckDB connection the sources are bound to."""

    name = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.rows_returned = 0
        self.values_returned = 0
        self.last_types: list[str] = []

    def run(self, sql: str, params: Mapping[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            cursor = self.connection.execute(sql, dict(params))
            rows = cursor.fetchall()
        except duckdb.Error as error:
            raise _refusal(error) from None
        names = [d[0] for d in (cursor.description or [])]
        self.last_types = [str(d[1]) for d in (cursor.description or [])]
        self.rows_returned += len(rows)
        self.values_returned += len(rows) * len(names)
        return names, rows

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class FetchedRows:
    """A statement's result, read as a DB-API cursor is: `description` gives each column's name and
    DuckDB type name (on Spark, the DuckDB spelling of its type: data/spark.py `duckdb_type`)."""

    names: list[str]
    rows: list[tuple[Any, ...]]
    types: list[str]

    @property
    def description(self) -> list[tuple[Any, ...]]:
        return [(name, kind, None, None, None, None, None) for name, kind in zip(self.names, self.types)]

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


class EngineConnection:
    """An engine behind `execute(sql, params)`, as DuckDB's connection offers it."""

    def __init__(self, engine: QueryEngine) -> None:
        self.engine = engine

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> FetchedRows:
        names, rows = self.engine.run(sql, params or {})
        return FetchedRows(names, rows, list(self.engine.last_types))
