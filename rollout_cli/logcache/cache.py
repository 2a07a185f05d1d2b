"""The cache file: open it safely, bring it up to date with the logs, bind the sources over it.

See the package docstring for the contract. Every write that moves rows into the cache happens in
one transaction with the file list that says which files they came from, so a process killed
half-way leaves either both or neither: a row is never counted twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb

from rollout_cli.data.engine import missing_from_file
from rollout_cli.data.source import BoundSource, Logs, connect, open_logs
from rollout_cli.logcache.answers import TABLE as ANSWERS_TABLE
from rollout_cli.logcache.identity import FileId, file_id
from rollout_cli.logcache.quality import TABLES as QUALITY_TABLES
from rollout_cli.logcache.sums import kept_name
from rollout_cli.logcache.units import UnitTable
from rollout_cli.plan.model import Plan

CACHE_FILE = "evaluation-cache.duckdb"
ENABLE_VARIABLE = "ROLLOUT_EVALUATION_CACHE"  # "0": looks read every file (docs/incremental.md)
CACHE_VERSION = 6  # raise when the tables below change shape: an older file is then rebuilt
_ALIAS = "rollout_cache"
_SOURCES = ("predictions", "outcomes")
OpenFull = Callable[[], Logs]  # opens the logs in full, as data.source.open_logs does


@dataclass(frozen=True)
class CacheUse:
    """How one look read the logs."""

    mode: Literal["incremental", "full"]
    files_read: int = 0  # log files read from disk by this look
    files_cached: int = 0  # log files answered from the cache
    note: str | None = None  # why the cache was not used, discarded or rebuilt
    units: UnitTable | None = field(default=None, compare=False, repr=False)  # the kept per-unit rows

    def to_json(self) -> dict[str, object]:
        return {"mode": self.mode, "files_read": self.files_read, "files_cached": self.files_cached,
                "note": self.note, "units": list(self.units.how) if self.units is not None else []}


def cache_enabled() -> bool:
    """Whether looks go through the cache: yes unless ROLLOUT_EVALUATION_CACHE is 0 (or off, false, no)."""
    return os.environ.get(ENABLE_VARIABLE, "").strip().lower() not in ("0", "off", "false", "no")


def cache_key(plan_name: str, stage: str, plan_digest: str) -> str:
    """What a cache file answers for: the plan (by digest), the stage and this cache format."""
    return hashlib.sha256(f"{CACHE_VERSION}\0{plan_name}\0{stage}\0{plan_digest}".encode()).hexdigest()


@contextmanager
def plan_logs(plan: Plan, stage: str, cache_dir: Path | None) -> Iterator[tuple[Logs, CacheUse | None]]:
    """The plan's logs for judging `stage`: through the evaluation cache in `cache_dir`, else read in full.
    A plan on Spark is always read in full, where its logs are (the cache is a local DuckDB file)."""
    if cache_dir is None or plan.data.engine != "duckdb":
        with open_logs(plan.data) as logs:
            yield logs, None
        return
    data = plan.data
    sources = {"predictions": None if data.predictions.is_table else data.predictions.glob,
               "outcomes": None if data.outcomes is None or data.outcomes.is_table else data.outcomes.glob}
    if data.outcomes is not None and sources["outcomes"] is None:
        sources["predictions"] = None  # one source in a table: the whole look reads in full
    digest = hashlib.sha256(canonical(plan).encode()).hexdigest()  # any change to the plan starts a new cache
    with cached_logs(sources, lambda: open_logs(data), cache_dir, cache_key(plan.name, stage, digest)) as found:
        yield found


def canonical(value: object) -> str:
    """A text that is the same for equal plans in every process (a set's repr follows string hashing,
    which changes from process to process): dataclasses by field, mappings and sets sorted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = ", ".join(f"{f.name}={canonical(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"{type(value).__name__}({inner})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(sorted(f"{canonical(k)}: {canonical(v)}" for k, v in value.items())) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(canonical(v) for v in value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(canonical(v) for v in value) + "]"
    return repr(value)


class _Unusable(Exception):
    """The cache cannot serve this look; the message says why (the look reads the logs in full)."""


@contextmanager
def cached_logs(spec_sources: dict[str, str | None], open_full: OpenFull, folder: Path, key: str
                ) -> Iterator[tuple[Logs, CacheUse]]:
    """Logs over the cache and the new files (see the package docstring); `spec_sources` maps
    predictions/outcomes to their glob (None: not a cached source), `open_full()` opens the logs in full."""
    reason = _not_cacheable(spec_sources)
    if reason:
        with open_full() as logs:
            yield logs, CacheUse("full", note=reason)
        return
    con = connect()
    try:
        note = _attach(con, folder / CACHE_FILE, key)
    except _Unusable as why:
        con.close()
        with open_full() as logs:
            yield logs, CacheUse("full", note=str(why))
        return
    try:
        logs, use = _bring_up_to_date(con, spec_sources, open_full, note)
    except _Unusable as why:  # discarded: this look reads the logs in full, the next one rebuilds
        try:
            _reset(con, key)
        except duckdb.Error:
            pass  # the next look finds the same problem and says it again
        con.close()
        with open_full() as logs:
            yield logs, CacheUse("full", note=str(why))
        return
    except BaseException:
        con.close()
        raise
    with logs:
        yield logs, use


def _not_cacheable(sources: dict[str, str | None]) -> str | None:
    for name, glob in sources.items():
        if glob is None:
            continue
        if not glob.lower().endswith((".parquet", ".pq")):
            return f"{name} are not parquet files: read in full (docs/incremental.md)"
    if sources.get("predictions") is None:
        return "predictions are a database table: read in full (docs/incremental.md)"
    return None


def _attach(con: duckdb.DuckDBPyConnection, path: Path, key: str) -> str | None:
    """Attach the cache read-write; a damaged file or another version/key is discarded (note returned)."""
    note = None
    for attempt in range(2):
        try:
            con.execute(f"ATTACH ? AS {_ALIAS} (TYPE duckdb)", [str(path)])
        except duckdb.IOException as error:
            if "lock" in str(error).lower():
                raise _Unusable("the evaluation cache is in use by another process: this look read the logs "
                                "in full") from None
            if attempt:
                raise _Unusable(f"the evaluation cache {path} cannot be created: {error}") from None
            note = f"the evaluation cache {path.name} was damaged and was rebuilt"
            _remove(path)
            continue
        except duckdb.Error:
            if attempt:
                raise _Unusable(f"the evaluation cache {path} cannot be created") from None
            note = f"the evaluation cache {path.name} was damaged and was rebuilt"
            _remove(path)
            continue
        break
    try:
        found = con.execute(f"SELECT version, key FROM {_ALIAS}.meta").fetchall()
    except duckdb.Error:
        found = []
    if found and found[0][0] == CACHE_VERSION and found[0][1] == key:
        return note
    if found and found[0][0] != CACHE_VERSION:
        note = f"the evaluation cache was written by another version (format {found[0][0]}) and was rebuilt"
    _reset(con, key)  # (another plan or stage: a new stage starts its own cache, nothing to say)
    return note


def _remove(path: Path) -> None:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)


def _reset(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """An empty cache for `key`: every table dropped and the file list emptied, in one transaction."""
    con.execute("BEGIN")
    for table in ("meta", "files", *_SOURCES, "unit_rows", "unit_meta", ANSWERS_TABLE, "unit_answer_fences",
                  *map(kept_name, ("unit_rows", ANSWERS_TABLE)), *QUALITY_TABLES):
        con.execute(f"DROP TABLE IF EXISTS {_ALIAS}.{table}")
    con.execute(f"CREATE TABLE {_ALIAS}.meta (version INTEGER, key VARCHAR)")
    con.execute(f"INSERT INTO {_ALIAS}.meta VALUES (?, ?)", [CACHE_VERSION, key])
    con.execute(f"CREATE TABLE {_ALIAS}.files (source VARCHAR, path VARCHAR, size BIGINT, mtime_ns BIGINT, "
                "edges VARCHAR, absorbed BOOLEAN, in_units BOOLEAN, in_quality BOOLEAN, PRIMARY KEY (source, path))")
    con.execute("COMMIT")


def _listed(con: duckdb.DuckDBPyConnection, glob: str) -> list[str]:
    return sorted(row[0] for row in con.execute("SELECT file FROM glob(?)", [glob]).fetchall())


def _bring_up_to_date(con: duckdb.DuckDBPyConnection, sources: dict[str, str | None], open_full: OpenFull,
                      note: str | None) -> tuple[Logs, CacheUse]:
    """Check the absorbed files, absorb the settled ones, and bind each source over cache + new files."""
    key = con.execute(f"SELECT key FROM {_ALIAS}.meta").fetchall()[0][0]
    now: dict[str, dict[str, FileId]] = {}
    for name, glob in sources.items():
        if glob is not None:
            now[name] = {path: file_id(path) for path in _listed(con, glob)}
    known = {(s, p): (FileId(p, size, mtime, edges), absorbed) for s, p, size, mtime, edges, absorbed
             in con.execute(f"SELECT source, path, size, mtime_ns, edges, absorbed FROM {_ALIAS}.files").fetchall()}
    changed = sorted(p for (s, p), (ident, absorbed) in known.items()
                     if absorbed and now.get(s, {}).get(p) != ident)
    if changed:
        gone = "deleted" if changed[0] not in now.get("predictions", {}) | now.get("outcomes", {}) else "rewritten"
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        note = f"{changed[0]}{more} was {gone} since it was cached: the evaluation cache was rebuilt from the logs"
        _reset(con, key)
        known = {}
    bound: dict[str, BoundSource] = {}
    fresh_files: dict[str, list[str]] = {}
    read = cached = 0
    full = open_full()  # the sources as the full path binds them: the columns and types to agree with
    try:
        for name, files in now.items():
            reference = full.predictions if name == "predictions" else full.outcomes
            assert reference is not None
            kept = {p for p, ident in files.items() if known.get((name, p)) == (ident, True)}
            faults, faulty = _missing_columns(con, reference, [p for p in files if p not in kept], first=min(files))
            # a file without a column is never absorbed: its rows would hold NULL there, as if it had one
            settled = [p for p, ident in files.items() if known.get((name, p)) == (ident, False) and p not in faulty]
            _absorb(con, name, settled, files)
            absorbed = kept | set(settled)
            fresh = [p for p in files if p not in absorbed]
            _remember(con, name, {p: files[p] for p in fresh})
            bound[name] = _bind(con, reference, has_cache=bool(absorbed), fresh=fresh, faults=faults)
            fresh_files[name] = fresh
            read, cached = read + len(fresh), cached + len(absorbed)
    finally:
        full.close()
    predictions = bound["predictions"]
    logs = Logs(connection=con, predictions=predictions, outcomes=bound.get("outcomes"), training=None)
    units = UnitTable(logs, cached={name: source.parquet_files is None for name, source in bound.items()},
                      fresh=fresh_files)
    return logs, CacheUse("incremental", files_read=read, files_cached=cached, note=note, units=units)


def _missing_columns(con: duckdb.DuckDBPyConnection, reference: BoundSource, paths: list[str], first: str
                     ) -> tuple[dict[str, str], set[str]]:
    """The columns of `reference` that some of `paths` lack (column -> the message a statement using it
    raises, as a full read says it: data/engine.py) and the files lacking one. A full read takes its
    columns from the first file and fails on a file without one only if a statement reads it; the
    cache binds the files by name, which would fill that column with NULL instead."""
    faults: dict[str, str] = {}
    faulty: set[str] = set()
    for path in sorted(paths):
        try:
            described = {row[0] for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()}
        except duckdb.Error:
            continue  # unreadable: the statements reading it say so, as a full read does
        for column in reference.columns:
            if column not in described:
                faults.setdefault(column, missing_from_file(column, path, first))
                faulty.add(path)
    return faults, faulty


def _absorb(con: duckdb.DuckDBPyConnection, name: str, settled: list[str], files: dict[str, FileId]) -> None:
    """Copy the settled files' rows into the cache and mark them absorbed, in one transaction."""
    if not settled:
        return
    table = f"{_ALIAS}.{name}"
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
                         [_ALIAS, name]).fetchall()[0][0]
    con.execute("BEGIN")
    try:
        if exists:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [settled])
        else:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet(?)", [settled])
        for path in settled:
            ident = files[path]
            con.execute(f"UPDATE {_ALIAS}.files SET absorbed = true WHERE source = ? AND path = ? AND size = ? "
                        "AND mtime_ns = ? AND edges = ?", [name, path, ident.size, ident.mtime_ns, ident.edges])
        con.execute("COMMIT")
    except duckdb.Error as error:
        con.execute("ROLLBACK")
        raise _Unusable(f"the {name} files no longer fit the cached rows ({str(error).splitlines()[0]}): "
                        "read in full") from None


def _remember(con: duckdb.DuckDBPyConnection, name: str, fresh: dict[str, FileId]) -> None:
    """Note the files read from the logs this look: absorbed at the next look that finds them unchanged."""
    if not fresh:
        return
    con.executemany(f"INSERT OR REPLACE INTO {_ALIAS}.files VALUES (?, ?, ?, ?, ?, false, false, false)",
                    [[name, p, i.size, i.mtime_ns, i.edges] for p, i in fresh.items()])


def _bind(con: duckdb.DuckDBPyConnection, reference: BoundSource, *, has_cache: bool, fresh: list[str],
          faults: Mapping[str, str]) -> BoundSource:
    """`reference` (the full binding) with its FROM item over the cached rows and the fresh files;
    the columns and their types must be the full binding's, else the look reads the logs in full.
    `faults`: the columns some fresh file lacks, refused when a statement reads them (_missing_columns)."""
    table = f"{_ALIAS}.main.{reference.name}"
    if has_cache and fresh:
        relation = f"(SELECT * FROM {table} UNION ALL BY NAME SELECT * FROM read_parquet(?))"
    elif has_cache:
        relation = table
    else:
        relation = "read_parquet(?)"
    params: tuple[object, ...] = (fresh,) if fresh else ()
    sql = f"DESCRIBE SELECT * FROM {relation}"
    described = con.execute(sql, list(params)).fetchall()
    columns = {row[0]: row[1] for row in described}
    if columns != dict(reference.columns):
        raise _Unusable(f"the {reference.name} columns changed ({reference.description}): read in full")
    if relation.startswith("(") and not fresh:
        params = ()
    return BoundSource(name=reference.name, description=reference.description, relation=relation, params=params,
                       columns=reference.columns, roles=reference.roles, faults=dict(faults),
                       glob=reference.glob)
