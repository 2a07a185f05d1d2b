"""The Spark engine (docs/spark.md): the evaluator's statements run where the data are.

Contract:
- `open_spark_logs(spec)` returns `Logs` whose sources are Spark temporary views over the
  plan's paths (parquet, csv, json by extension; s3a://, abfss://, hdfs:// are read by the
  cluster) or catalog tables (`data.spark.tables`), with each column's Spark type mapped to the
  DuckDB type name the column checks of data/source.py expect. Statements then run through
  `SparkEngine.run`: rendered by data/transpile.py, executed by Spark, only the result rows
  (aggregates: arms × segment values × metrics) collected. A statement calling `stable_hash`
  first registers it on the session (data/stable_hash.py).
- One Spark session per process: `data.spark.master` starts one here (local[2], yarn, …);
  `data.spark.connect` (sc://host:15002) attaches to a Spark Connect server, after a TCP check
  with a 5 s timeout so an unreachable endpoint is said at once. `${env:…}` in the endpoint and
  the configuration are resolved here, at the last moment, and scrubbed from every output.
- Without pyspark and sqlglot: DataError saying `pip install 'rollout-cli[spark]'`. An
  unreachable endpoint, a missing path or table, a mistyped column: DataError naming it (exit 2
  for `evaluate`; a hold for `tick`), never a pass.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rollout_cli.data import stable_hash
from rollout_cli.data.engine import first_line
from rollout_cli.data.source import BoundSource, Logs, bind_optional, connect, quote_identifier
from rollout_cli.errors import DataError
from rollout_cli.plan.model import DataSource, DataSpec, SparkSpec
from rollout_cli.secrets import resolve

INSTALL_HINT = "install the Spark extra: pip install 'rollout-cli[spark]' (and a Java runtime for a local master)"
CONNECT_TIMEOUT_S = 5.0
_views = itertools.count()
_NO_TABLE = ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND", "CATALOG_NOT_FOUND", "REQUIRES_SINGLE_PART_NAMESPACE")
# Spark type -> the DuckDB type name data/source.py classifies (number, text, boolean, timestamp)
_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT", "tinyint": "TINYINT",
          "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN", "timestamp": "TIMESTAMP WITH TIME ZONE",
          "timestamp_ntz": "TIMESTAMP", "date": "DATE"}


def duckdb_type(spark_type: str) -> str:
    """The DuckDB spelling of a Spark simpleString type (decimal(p,s) -> DECIMAL(p,s); others upper-cased)."""
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    return _TYPES.get(spark_type, spark_type.upper())


class SparkEngine:
    """Statements run on one Spark session; each returns only its aggregated rows.

    A temporary table (the shadow comparison's `pairs`: data/transpile.py `spark_statement`) is a
    cached, fully computed view under a name of this engine's own, so that the scans after it read
    it as DuckDB reads its temporary table and two engines on one session never meet; a DELETE
    caches the rows it keeps under a new name. `close` uncaches and drops all of it."""

    name = "spark"

    def __init__(self, session: Any) -> None:
        self.session = session
        self.views: list[str] = []
        self.tables: dict[str, str] = {}  # temporary table -> the view holding its rows now
        self.cached: dict[str, Any] = {}  # temporary table -> its cached frame, to uncache
        self.hashing = False  # stable_hash registered on the session (data/stable_hash.py)
        self.rows_returned = 0
        self.values_returned = 0
        self.last_types: list[str] = []

    def run(self, sql: str, params: Mapping[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        from rollout_cli.data.transpile import spark_statement

        try:
            statement = spark_statement(sql, params, self.tables)
            if statement.stable_hash and not self.hashing:
                stable_hash.register(self.session)
                self.hashing = True
            frame = self.session.sql(statement.sql)
            if statement.creates is not None:
                self.last_types = ["BIGINT"]
                return ["Count"], [(self._keep(statement.creates, frame),)]
            rows = [tuple(row) for row in frame.collect()]
            fields = frame.schema.fields  # known once the statement is analysed (cached by the Connect client)
            names = [f.name for f in fields]
            self.last_types = [duckdb_type(f.dataType.simpleString()) for f in fields]
        except Exception as error:  # noqa: BLE001 - Spark's AnalysisException, Py4J and gRPC errors alike
            raise DataError(f"reading the logs on Spark failed: {_reason(error)}") from None
        self.rows_returned += len(rows)
        self.values_returned += len(rows) * len(names)
        return names, rows

    def _keep(self, table: str, frame: Any) -> int:
        """Cache `frame` as the temporary `table` and compute it now (DuckDB creates its table at once,
        and a problem with the logs should surface here, not in the fifth scan); returns its rows."""
        frame = frame.persist()
        try:
            rows = int(frame.count())
        except BaseException:
            frame.unpersist()
            raise
        view = f"rollout_{table}_{next(_views)}"
        frame.createOrReplaceTempView(view)
        self.views.append(view)
        old = self.cached.get(table)
        if old is not None:  # the rows a DELETE kept replace the old ones (not cascading: the new are computed)
            old.unpersist()
        self.cached[table], self.tables[table] = frame, view
        return rows

    def close(self) -> None:
        for frame in self.cached.values():
            try:
                frame.unpersist()
            except Exception:  # noqa: BLE001, S110 - a session already gone holds no cache
                pass
        self.cached.clear()
        self.tables.clear()
        for view in self.views:  # the session is kept for the next statement; its views are not
            try:
                self.session.catalog.dropTempView(view)
            except Exception:  # noqa: BLE001, S110 - a session already gone has no views left
                pass
        self.views.clear()


def _reason(error: BaseException) -> str:
    """Spark's message without its JVM stack trace (or a Python worker's, for stable_hash's own refusal)."""
    text = str(error)
    if stable_hash.REFUSED in text:
        return text[text.rindex(stable_hash.REFUSED):].splitlines()[0]
    return first_line(error).removeprefix("An error occurred while calling o").strip()


def _endpoint_reachable(url: str) -> None:
    parts = urlsplit(url.replace("sc://", "http://", 1))
    host, port = parts.hostname or "", parts.port or 15002
    shown = f"sc://{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise DataError(f"cannot reach the Spark Connect endpoint {shown}: {error.strerror or error}",
                        hint="check data.spark.connect and that the Spark Connect server runs") from None


def spark_session(options: SparkSpec) -> Any:
    """The process's Spark session for `options` (started, or attached over Spark Connect)."""
    try:
        import sqlglot  # noqa: F401 - the statements are rendered with it
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError("the plan runs its queries on Spark (data.engine: spark) but pyspark or sqlglot is not "
                        "installed", hint=INSTALL_HINT) from None
    builder = SparkSession.builder
    if options.connect is not None:
        url = resolve(options.connect)
        _endpoint_reachable(url)
        builder = builder.remote(url)
    else:
        master = resolve(options.master or "local[*]")
        builder = builder.master(master).appName("rollout")
        if master.startswith("local"):  # a session of our own listens on loopback only
            builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
        builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    builder = builder.config("spark.sql.session.timeZone", "UTC")  # naive timestamps are UTC (docs/data.md)
    for key, value in options.conf.items():
        builder = builder.config(key, resolve(value))
    try:
        session = builder.getOrCreate()
    except ImportError as error:  # Spark Connect's client needs grpcio and friends
        raise DataError(f"Spark Connect's client cannot start: {first_line(error)}",
                        hint="install the Spark extra, which brings the client: "
                             "pip install 'rollout-cli[spark]'") from None
    except Exception as error:  # noqa: BLE001 - no Java, a master that refuses: one clear line
        raise DataError(f"Spark did not start: {_reason(error)}", hint=INSTALL_HINT) from None
    if options.connect is None:
        session.sparkContext.setLogLevel("ERROR")
    # pyspark logs each failed statement with its JVM stack trace to stderr; the failure reaches the
    # user once, as a DataError with Spark's first line (docs/spark.md)
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True
    return session


def _read(session: Any, name: str, source: DataSource) -> Any:
    if source.catalog_table is not None:
        return session.table(source.catalog_table)
    glob = str(source.glob)
    if "://" not in glob:  # relative to this process's directory (docs/data.md), not to where the JVM started
        glob = str(Path(glob).absolute())
    lower = glob.lower()
    if lower.endswith((".parquet", ".pq")):
        return session.read.parquet(glob)
    if lower.endswith((".csv", ".tsv")):
        return session.read.options(header=True, inferSchema=True, sep="\t" if lower.endswith(".tsv") else ",").csv(glob)
    if lower.endswith((".json", ".jsonl", ".ndjson")):
        return session.read.json(glob)
    raise DataError(f"cannot tell the format of '{glob}' from its extension (known: .csv, .json, .jsonl, .ndjson, "
                    ".parquet, .pq, .tsv)")


def bind_spark_source(engine: SparkEngine, name: str, source: DataSource, roles: Mapping[str, str]) -> BoundSource:
    """`source` as a temporary view; a missing path or table is a DataError naming it."""
    try:
        frame = _read(engine.session, name, source)
        fields = [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]
        view = f"rollout_{name}_{next(_views)}"
        frame.createOrReplaceTempView(view)
    except DataError:
        raise
    except Exception as error:  # noqa: BLE001
        text = str(error)
        if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
            raise DataError(f"no {name} files match '{source.glob}'",
                            hint=f"check data.{name} in the plan") from None
        if source.catalog_table is not None and any(code in text for code in _NO_TABLE):
            detail = "" if "TABLE_OR_VIEW_NOT_FOUND" in text else f" ({_reason(error)})"
            raise DataError(f"the {name} table '{source.catalog_table}' is not in Spark's catalog{detail}",
                            hint=f"check data.spark.tables.{name}") from None
        raise DataError(f"cannot read {name} ({source.describe()}) on Spark: {_reason(error)}") from None
    engine.views.append(view)
    return BoundSource(name=name, description=source.describe(), relation=quote_identifier(view), params=(),
                       columns={field: duckdb_type(kind) for field, kind in fields}, roles=dict(roles))


def open_spark_logs(spec: DataSpec, *, with_training: bool = False, notes: list[str] | None = None) -> Logs:
    """The plan's sources as Spark views (see open_logs in data/source.py for `notes`)."""
    engine = SparkEngine(spark_session(spec.spark or SparkSpec(master="local[*]")))
    try:
        predictions = bind_spark_source(engine, "predictions", spec.predictions, spec.columns)
        outcomes, training = bind_optional(lambda name, source: bind_spark_source(engine, name, source, spec.columns),
                                           spec, with_training, notes)
    except BaseException:
        engine.close()
        raise
    # `connection`: an idle in-memory DuckDB, for the type; every statement runs on `engine`
    return Logs(connection=connect(1), predictions=predictions, outcomes=outcomes, training=training, engine=engine)


def _frame(logs: Logs, sql: str, params: Mapping[str, Any]) -> Any:
    from rollout_cli.data.transpile import to_spark

    engine = logs.engine
    assert isinstance(engine, SparkEngine)
    return engine.session.sql(to_spark(sql, params))


def spark_columns(logs: Logs, sql: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The statement's columns with DuckDB type names (for the export's dictionary); nothing is run."""
    try:
        return [(f.name, duckdb_type(f.dataType.simpleString())) for f in _frame(logs, sql, params).schema.fields]
    except Exception as error:  # noqa: BLE001
        raise DataError(f"reading the logs on Spark failed: {_reason(error)}") from None


EXPORT_BATCH_ROWS = 50_000


def spark_copy(logs: Logs, sql: str, params: Mapping[str, Any], target: Any, fmt: str) -> int:
    """Stream the statement's rows into `target` (parquet with zstd, or csv with a header) in
    batches of EXPORT_BATCH_ROWS: an export is the one command whose rows are the point, so they
    come to this machine — one partition at a time, never all at once. Returns the row count."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        frame = _frame(logs, sql, params)
        schema = to_arrow_schema(frame.schema)
        writer: Any = (pq.ParquetWriter(str(target), schema, compression="zstd") if fmt == "parquet"
                       else pa_csv.CSVWriter(str(target), schema))
        rows = 0
        try:
            batch: list[tuple[Any, ...]] = []
            for row in frame.toLocalIterator():
                batch.append(tuple(row))
                if len(batch) >= EXPORT_BATCH_ROWS:
                    rows += _write_batch(writer, schema, batch, pa)
            rows += _write_batch(writer, schema, batch, pa)
        finally:
            writer.close()
        return rows
    except DataError:
        raise
    except Exception as error:  # noqa: BLE001
        raise DataError(f"the export failed on Spark: {_reason(error)}") from None


def _write_batch(writer: Any, schema: Any, batch: list[tuple[Any, ...]], pa: Any) -> int:
    if not batch:
        return 0
    columns = list(zip(*batch))
    writer.write_table(pa.Table.from_arrays([pa.array(list(c), type=f.type) for c, f in zip(columns, schema)],
                                            schema=schema))
    n = len(batch)
    batch.clear()
    return n
