"""Run an export: the rollout's stage periods, the statement, its dictionary, one COPY.

The COPY streams: DuckDB runs under a memory limit with a spill folder beside the output and
without preserving insertion order, so 20M requests export within a fixed memory budget
(benchmarks/bench_export.py). The file is written under a temporary name and renamed
(files.replacing); the dictionary is written beside it the same way.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import duckdb

from rollout_cli.data.source import Logs, check_window, open_logs
from rollout_cli.errors import DataError, UsageError
from rollout_cli.export.dictionary import Entry, dictionary, dictionary_csv
from rollout_cli.export.query import ExportQuery, Per, export_query
from rollout_cli.files import check_target, replacing
from rollout_cli.plan.model import Plan
from rollout_cli.state.store import StateStore
from rollout_cli.state.timeline import StagePeriod, stage_periods

Format = Literal["parquet", "csv"]
# DuckDB's own budget. The goal is a whole process under 1 GB at 20M requests (docs/export.md):
# Python, the library and the parquet writer's buffers add about 150 MB on top. At 20M requests
# the units' aggregate and their join need about 2 GB unbounded (benchmarks/README.md); 750 MB keeps
# the spill small (about 1.3x the CPU of the unbounded statement), 500 MB spilled 17 GB (2.25x).
MEMORY_LIMIT_MB = 750


def memory_limit_mb() -> int:
    """The budget: MEMORY_LIMIT_MB, or 40% of the machine's memory when that is smaller."""
    import os

    try:
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        return MEMORY_LIMIT_MB
    return max(100, min(MEMORY_LIMIT_MB, int(total_mb * 0.4)))


@dataclass(frozen=True)
class ExportRequest:
    per: Per = "request"
    format: Format | None = None  # None: from the file name, else parquet
    since: datetime | None = None
    until: datetime | None = None
    stage: str | None = None


@dataclass(frozen=True)
class ExportResult:
    path: Path | None
    dictionary_path: Path | None
    rows: int
    format: Format
    entries: list[Entry]

    def to_json(self) -> dict[str, object]:
        return {"path": str(self.path) if self.path else None,
                "dictionary": str(self.dictionary_path) if self.dictionary_path else None,
                "rows": self.rows, "format": self.format,
                "columns": [{"column": e.column, "meaning": e.meaning, "type": e.type} for e in self.entries]}


def dictionary_path(out: Path) -> Path:
    """Where the dictionary goes: beside the file, `NAME.dictionary.csv`."""
    return out.with_name(f"{out.stem}.dictionary.csv")


def output_format(out: Path | None, chosen: Format | None) -> Format:
    if chosen is not None:
        return chosen
    return "csv" if out is not None and out.suffix.lower() in (".csv", ".tsv") else "parquet"


def rollout_periods(plan: Plan, store: StateStore, stage: str | None) -> tuple[list[StagePeriod], list[int] | None]:
    """The rollout's periods, and the indices of `stage`'s periods when one is asked for."""
    if store.get(plan.name) is None:
        raise UsageError(f"{plan.name} has no state in {store.state_dir}: the rollout has not started, so no "
                         "request can be labelled with a stage", hint="check --state-dir, or start the rollout first")
    periods = stage_periods(store.events(plan.name))
    if not periods:
        raise UsageError(f"{plan.name} has not entered any stage yet (nothing in its audit trail moved the router)")
    if stage is None:
        return periods, None
    try:
        plan.stage(stage)
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None
    chosen = [i for i, p in enumerate(periods) if p.stage == stage]
    if not chosen:
        ran = ", ".join(dict.fromkeys(p.stage for p in periods if p.stage)) or "none"
        raise UsageError(f"stage {stage} never ran in {plan.name} (stages that ran: {ran})")
    return periods, chosen


def describe(logs: Logs, query: ExportQuery) -> list[Entry]:
    if logs.engine_name == "spark":
        from rollout_cli.data.spark import spark_columns

        return dictionary(query, spark_columns(logs, query.sql, query.params.values))
    try:
        rows = logs.connection.execute(f"DESCRIBE {query.sql}", query.params.values).fetchall()
    except duckdb.Error as error:
        raise DataError(f"reading the logs failed: {str(error).strip().splitlines()[0]}") from None
    return dictionary(query, [(r[0], r[1]) for r in rows])


def _literal(path: Path) -> str:
    """A DuckDB string literal for a path we made (COPY takes no parameter for its target)."""
    return "'" + str(path).replace("'", "''") + "'"


def run_export(plan: Plan, store: StateStore, out: Path | None, request: ExportRequest, *, force: bool = False,
               describe_only: bool = False) -> ExportResult:
    """Export (or, with describe_only, only describe) the rollout's requests or units. UsageError,
    DataError on bad input; on any failure no file is left under `out` or its dictionary's name."""
    check_window(request.since, request.until)
    fmt = output_format(out, request.format)
    periods, only = rollout_periods(plan, store, request.stage)
    with open_logs(plan.data) as logs:
        query = export_query(plan, logs, periods, per=request.per, since=request.since, until=request.until,
                             only_periods=only)
        entries = describe(logs, query)
        if describe_only or out is None:
            return ExportResult(None, None, 0, fmt, entries)
        side = dictionary_path(out)
        for path in (out, side):  # both refused before either is written
            check_target(path, force=force)
        with replacing(out, force=force) as temporary, replacing(side, force=force) as side_temporary:
            rows = _copy(logs, query, temporary, fmt)
            side_temporary.write_text(dictionary_csv(entries), encoding="utf-8")
    return ExportResult(out, side, rows, fmt, entries)


def _copy(logs: Logs, query: ExportQuery, target: Path, fmt: Format) -> int:
    if logs.engine_name == "spark":
        from rollout_cli.data.spark import spark_copy

        return spark_copy(logs, query.sql, query.params.values, target, fmt)
    con = logs.connection
    spill = Path(tempfile.mkdtemp(prefix=".rollout-export-", dir=target.parent))
    try:
        con.execute(f"SET memory_limit = '{memory_limit_mb()}MB'")
        con.execute(f"SET temp_directory = {_literal(spill)}")
        con.execute("SET preserve_insertion_order = false")  # lets COPY stream without reordering
        options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
        row = con.execute(f"COPY ({query.sql}) TO {_literal(target)} ({options})", query.params.values).fetchone()
        return int(row[0]) if row else 0
    except duckdb.Error as error:
        raise DataError(f"the export failed: {str(error).strip().splitlines()[0]}") from None
    finally:
        shutil.rmtree(spill, ignore_errors=True)
