"""DuckDB over the logs: file globs or database tables, read-only, with column roles (docs/data.md).

Contract:
- `open_logs(spec)` returns `Logs`: one in-memory DuckDB connection with extension auto-install
  and auto-load off (parquet, json and icu are built in; nothing is ever downloaded), the
  session time zone set to UTC, the macro `stable_hash` (data/stable_hash.py), and each source
  bound as a `BoundSource`.
- A file source becomes `read_parquet(?)`, `read_csv_auto(?)` or `read_json_auto(?)` chosen by
  the glob's extension, with the glob as a statement parameter — never pasted into SQL.
- A table source is ATTACHed read-only (the path is a parameter too) and named by quoted
  identifiers after the table was found in the attached catalog.
- `BoundSource.column(role, expect)` returns the quoted identifier of the column mapped to
  `role`, after checking it exists in the source's DESCRIBE output and has an acceptable type.
- With `data.engine: spark`, `open_logs` hands over to data/spark.py: the same `Logs`, its
  sources Spark views, its statements run by the Spark engine (docs/spark.md).
- Every problem (no files, unreadable file, missing table, missing or mistyped column, empty
  source) is a DataError naming the source and the column; never a traceback, never a pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb

from rollout_cli.data import stable_hash
from rollout_cli.data.engine import MISSING_HINT, DuckDBEngine, EngineConnection, QueryEngine, first_line
from rollout_cli.errors import DataError
from rollout_cli.plan.model import DataSource, DataSpec

TypeClass = Literal["any", "text", "number", "boolean", "timestamp", "number_or_text", "flag"]

_NUMBER_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                    "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")
_TIMESTAMP_PREFIXES = ("TIMESTAMP",)  # TIMESTAMP, TIMESTAMP_NS/MS/S, TIMESTAMP WITH TIME ZONE
_EXPECTED_WORDS = {
    "text": "text (VARCHAR)",
    "number": "a number",
    "boolean": "a boolean",
    "flag": "a boolean or a 0/1 number",
    "timestamp": "a timestamp",
    "number_or_text": "a number or text",
}

_READERS = {
    ".parquet": "read_parquet",
    ".pq": "read_parquet",
    ".csv": "read_csv_auto",
    ".tsv": "read_csv_auto",
    ".json": "read_json_auto",
    ".jsonl": "read_json_auto",
    ".ndjson": "read_json_auto",
}


def quote_identifier(name: str) -> str:
    """A SQL identifier for `name`: double quotes, embedded quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def type_class(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    if upper.startswith(_TIMESTAMP_PREFIXES):
        return "timestamp"
    if upper.startswith(_NUMBER_PREFIXES):
        return "number"
    if upper == "BOOLEAN":
        return "boolean"
    if upper == "VARCHAR":
        return "text"
    return "other"


def _accepts(expect: TypeClass, actual: str) -> bool:
    if expect == "any":
        return True
    if expect == "number_or_text":
        return actual in ("number", "text")
    if expect == "flag":
        return actual in ("boolean", "number")
    return actual == expect


class SqlParams:
    """Named statement parameters ($p0, $p1, ...): user values go here, never into SQL text."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        # a zoned time binds as TIMESTAMPTZ, which DuckDB will not compare with TIMESTAMP_NS columns
        self.values[name] = utc_naive(value) if isinstance(value, datetime) else value
        return "$" + name


def utc_naive(moment: datetime) -> datetime:
    """UTC without tzinfo, as the logs' TIMESTAMP columns hold it (naive input is taken as UTC, docs/data.md)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def check_window(since: datetime | None, until: datetime | None) -> None:
    """DataError (exit 2) when the window [since, until] starts after it ends: it holds nothing, and
    saying so beats an empty answer (evaluate, shadow, export)."""
    if since is not None and until is not None and utc_naive(since) > utc_naive(until):
        start, end = utc_naive(since).isoformat(), utc_naive(until).isoformat()
        raise DataError(f"the window starts ({start}) after it ends ({end})")


def ts_filter(ts: str, since: datetime | None, until: datetime, params: SqlParams) -> str:
    """The window's condition on the time column `ts`: at most `until`, at least `since` when given."""
    condition = f"{ts} <= {params.add(until)}"
    if since is not None:
        condition += f" AND {ts} >= {params.add(since)}"
    return condition


@dataclass(frozen=True)
class BoundSource:
    """One log source as SQL: `relation` is a FROM item, `params` its statement parameters."""

    name: str  # "predictions" | "outcomes" | "training"
    description: str  # the glob or database:table, for messages
    relation: str  # a reader call with one `?` (the glob), or a quoted table name
    params: tuple[Any, ...]
    columns: Mapping[str, str]  # column name -> DuckDB type
    roles: Mapping[str, str] = field(default_factory=dict)  # role -> the user's column name
    # column -> why no statement may read it: a file of the source lacks it (logcache/cache.py)
    faults: Mapping[str, str] = field(default_factory=dict)
    glob: tuple[str, str] | None = None  # a file source's (reader, glob), wherever its rows are read from


    def from_item(self, params: SqlParams) -> str:
        """The FROM item with its glob registered as a named parameter of `params`."""
        if not self.params:
            return self.relation
        return self.relation.replace("?", params.add(self.params[0]))

    @property
    def parquet_files(self) -> Any:
        """What a parquet source reads (its glob, or a list of files), whose files carry their own row counts and
        statistics; None for any other source."""
        return self.params[0] if self.relation.startswith("read_parquet(") and self.params else None

    def has_role(self, role: str) -> bool:
        """Whether the source has the column of an optional role (request_id, outcome value)."""
        return self.roles.get(role, role) in self.columns

    def column(self, role: str, expect: TypeClass = "any", *, column: str | None = None) -> str:
        """The quoted column for `role` (or a named plan column), checked against the source."""
        name = column if column is not None else self.roles.get(role, role)
        what = f"column '{name}'" + (f" (role {role})" if column is None else f" ({role})")
        if name not in self.columns:
            known = ", ".join(sorted(self.columns)) or "none"
            hint = "map the role to your column name in data.columns" if column is None else "fix the plan"
            raise DataError(f"{what} is missing from {self.name} ({self.description}); its columns are: {known}",
                            hint=hint)
        if name in self.faults:
            raise DataError(self.faults[name], hint=MISSING_HINT)
        actual = self.columns[name]
        if not _accepts(expect, type_class(actual)):
            raise DataError(f"{what} in {self.name} ({self.description}) is {actual}; "
                            f"expected {_EXPECTED_WORDS[expect]}")
        return quote_identifier(name)

    def type_of(self, role: str, *, column: str | None = None) -> str:
        """The type class of the column for `role` (or a named plan column); a missing one is the
        DataError of `column`, never a KeyError."""
        name = column if column is not None else self.roles.get(role, role)
        if name not in self.columns:
            self.column(role, column=column)
        return type_class(self.columns[name])


@dataclass
class Logs:
    """The plan's sources bound on an engine (docs/spark.md). Close it (or use `with`).

    `engine` runs the statements of `query` (DuckDB, or Spark: data/engine.py), and of
    `engine_connection` (the shadow comparison's). `connection` is the DuckDB engine's connection,
    read directly by `export` on DuckDB; on Spark it is an idle in-memory one."""

    connection: duckdb.DuckDBPyConnection
    predictions: BoundSource
    outcomes: BoundSource | None
    training: BoundSource | None
    engine: QueryEngine | None = None  # None: DuckDBEngine(connection)
    last_columns: list[str] = field(default_factory=list)  # the column names of the last `query`

    def __post_init__(self) -> None:
        if self.engine is None:
            self.engine = DuckDBEngine(self.connection)

    def __enter__(self) -> Logs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine_name(self) -> str:
        return self.engine.name if self.engine is not None else "duckdb"

    @property
    def engine_connection(self) -> EngineConnection:
        assert self.engine is not None
        return EngineConnection(self.engine)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        self.connection.close()

    def query(self, sql: str, params: SqlParams) -> list[tuple[Any, ...]]:
        """Run one statement on the engine; its errors become DataError with the engine's own first line."""
        assert self.engine is not None
        self.last_columns, rows = self.engine.run(sql, params.values)
        return rows


_first_line = first_line


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads or loads extensions on its own."""
    config: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    chosen = threads or os.environ.get("ROLLOUT_DUCKDB_THREADS")
    if chosen:
        if not str(chosen).isdigit() or int(chosen) < 1:
            raise DataError(f"ROLLOUT_DUCKDB_THREADS must be a whole number of threads, not {chosen!r}")
        config["threads"] = int(chosen)
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # it would print into stdout, which --json reserves
    con.execute(stable_hash.MACRO)  # DuckDB's hash under the name every engine knows (data/stable_hash.py)
    return con


def _reader_for(glob: str) -> str:
    lower = glob.lower()
    for suffix, reader in _READERS.items():
        if lower.endswith(suffix):
            return reader
    known = ", ".join(sorted(_READERS))
    raise DataError(f"cannot tell the format of '{glob}' from its extension (known: {known})")


def _bind_file(con: duckdb.DuckDBPyConnection, name: str, glob: str) -> BoundSource:
    reader = _reader_for(glob)
    relation = f"{reader}(?)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}", [glob]).fetchall()
    except duckdb.IOException as error:
        text = str(error)
        if "No files found" in text:
            raise DataError(f"no {name} files match '{glob}'",
                            hint=f"check data.{name} in the plan and the current directory") from None
        raise DataError(f"cannot read {name} ({glob}): {_first_line(error)}") from None
    except duckdb.Error as error:
        raise DataError(f"cannot read {name} ({glob}): {_first_line(error)}") from None
    return BoundSource(name=name, description=glob, relation=relation, params=(glob,),
                       columns={row[0]: row[1] for row in described}, glob=(reader, glob))


def _bind_table(con: duckdb.DuckDBPyConnection, name: str, source: DataSource,
                attached: dict[str, str]) -> BoundSource:
    database, table = str(source.database), str(source.table)
    if not Path(database).is_file():
        what = "is a directory, not a DuckDB database file" if Path(database).is_dir() else "does not exist"
        raise DataError(f"the {name} database '{database}' {what}")
    key = str(Path(database).resolve())
    alias = attached.get(key)
    if alias is None:  # one database file may hold both tables: attach it once
        alias = f"rollout_db{len(attached)}"
        try:
            # TYPE duckdb: another format (SQLite, parquet) is refused as such, never handed to an extension
            con.execute(f"ATTACH ? AS {quote_identifier(alias)} (TYPE duckdb, READ_ONLY)", [database])
        except duckdb.Error as error:
            raise DataError(f"cannot open the {name} database '{database}': {_first_line(error)}") from None
        attached[key] = alias
    schema, _, bare = table.rpartition(".")
    schema = schema or "main"
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? AND table_name = ?",
        [alias, schema, bare],
    ).fetchone()
    views = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND schema_name = ? AND view_name = ?",
        [alias, schema, bare],
    ).fetchone()
    if not (found and found[0]) and not (views and views[0]):
        tables = [r[0] for r in con.execute(
            "SELECT CASE WHEN schema_name = 'main' THEN table_name ELSE schema_name || '.' || table_name END "
            "FROM duckdb_tables() WHERE database_name = ? ORDER BY 1", [alias]).fetchall()]
        raise DataError(f"the {name} table '{table}' is not in '{database}' (tables: {', '.join(tables) or 'none'})")
    relation = ".".join(quote_identifier(part) for part in (alias, schema, bare))
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    return BoundSource(name=name, description=f"{database}:{table}", relation=relation, params=(),
                       columns={row[0]: row[1] for row in described})


def bind_source(con: duckdb.DuckDBPyConnection, name: str, source: DataSource,
                roles: Mapping[str, str], attached: dict[str, str]) -> BoundSource:
    if source.catalog_table is not None:
        raise DataError(f"the {name} source is the catalog table {source.catalog_table}, which only Spark reads",
                        hint="set data.engine: spark (docs/spark.md)")
    if source.is_table:
        bound = _bind_table(con, name, source, attached)
    else:
        bound = _bind_file(con, name, str(source.glob))
    return BoundSource(name=bound.name, description=bound.description, relation=bound.relation,
                       params=bound.params, columns=bound.columns, roles=dict(roles), glob=bound.glob)


def open_logs(spec: DataSpec, *, threads: int | None = None, with_training: bool = False,
              notes: list[str] | None = None) -> Logs:
    """Bind the plan's sources on a fresh read-only connection (or, with `data.engine: spark`, as
    Spark views: data/spark.py). Raises DataError. With `notes`, outcomes and training that cannot
    be bound are left out with a note there instead (for what only adds figures: `rollout shadow`)."""
    if spec.engine == "spark":
        from rollout_cli.data.spark import open_spark_logs

        return open_spark_logs(spec, with_training=with_training, notes=notes)
    con = connect(threads)
    attached: dict[str, str] = {}
    try:
        predictions = bind_source(con, "predictions", spec.predictions, spec.columns, attached)
        outcomes, training = bind_optional(
            lambda name, source: bind_source(con, name, source, spec.columns, attached), spec, with_training, notes)
    except BaseException:
        con.close()
        raise
    return Logs(connection=con, predictions=predictions, outcomes=outcomes, training=training)


def bind_optional(bind: Callable[[str, DataSource], BoundSource], spec: DataSpec, with_training: bool,
                  notes: list[str] | None) -> tuple[BoundSource | None, BoundSource | None]:
    """The outcomes and (if asked) training sources bound by `bind`; with `notes`, one that cannot
    be bound is None and its reason a note."""
    bound: dict[str, BoundSource | None] = {}
    for name, source in (("outcomes", spec.outcomes), ("training", spec.training if with_training else None)):
        try:
            bound[name] = bind(name, source) if source is not None else None
        except DataError as error:
            if notes is None:
                raise
            notes.append(f"{name} left out: {error.message}")
            bound[name] = None
    return bound["outcomes"], bound["training"]
