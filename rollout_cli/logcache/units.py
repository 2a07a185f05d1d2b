"""The per-unit rows kept in the cache: a look recomputes only the units its new rows touch.

Contract (docs/incremental.md, "Per-unit rows"):
- `UnitTable.rows(build, keys)` returns a FROM item holding exactly the rows `build` (a traffic
  stage's per-unit SELECT, data.queries.traffic_unit_sql) gives over every row of the look — the
  cached rows and the files not yet absorbed.
- The table `unit_rows` in the cache holds `build` over the absorbed rows for the window
  (`since`, `upto`]. A look with the same `since` and `until >= upto` recomputes, and keeps, the
  units of the files absorbed since (`files.in_units` false) and the units with a cached row in
  (`upto`, `until`] (rows from the future then; time moved on), in one transaction with the file
  marks: a process killed half-way leaves the table and the marks as they were.
- The files not yet absorbed touch units too: those are recomputed for this look only (from their
  cached rows and the new files) and replace theirs in what the look reads.
- A unit's row depends only on that unit's rows (its first answer, its window, its outcomes), so
  recomputing the touched units from all their rows gives the full statement's rows.
- Another `since`, an `until` before `upto`: the look computes every unit from the cached rows
  and the new files (what the row cache alone did), and keeps nothing.
- Companions (`UnitTable.companions`, registered before `rows`): other per-unit SELECTs (rows with
  a `unit` column that depend on that unit's rows only, e.g. logcache/answers.py) kept in their own
  tables and recomputed with the same touched units in the same transactions; `relations[name]` is
  then the FROM item of the look's rows of each.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from rollout_cli.data.engine import first_line
from rollout_cli.data.source import BoundSource, Logs, SqlParams
from rollout_cli.errors import DataError

ALIAS = "rollout_cache"
UNIT_TABLE = f"{ALIAS}.main.unit_rows"
Build = Callable[[Logs, SqlParams], str]
Companion = Callable[[Logs, SqlParams, str], str]  # (logs, params, the unit expression) -> per-unit SELECT


@dataclass
class UnitTable:
    """What one look knows about the cache to keep per-unit rows: see the module contract."""

    logs: Logs  # the look's logs: sources over the cached rows and the files not absorbed
    cached: dict[str, bool]  # source -> whether the cache holds rows of it
    fresh: dict[str, list[str]]  # source -> files read from the logs this look (not absorbed)
    since: datetime | None = None  # the look's window (set by `rows`)
    until: datetime = datetime.min
    how: list[str] = field(default_factory=list)  # what was done, for CacheUse.units
    companions: dict[str, Companion] = field(default_factory=dict)  # table name -> its per-unit SELECT
    relations: dict[str, str] = field(default_factory=dict)  # companion -> FROM item of the look's rows
    unit: str = "unit"  # the unit expression over predictions (set by `rows`)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.logs.connection

    def rows(self, build: Build, keys: tuple[str, str | None], since: datetime | None, until: datetime) -> str:
        """A FROM item with the per-unit rows of the look over (since, until] (see the module contract).
        Kept rows that cannot be read are dropped and computed again (with a word in `how`)."""
        self.since, self.until, self.unit = since, until, keys[0]
        self.relations = {}
        shape = self._shape(build)
        try:
            return self._rows(build, keys, shape)
        except duckdb.Error as error:
            self.how.append(f"the kept per-unit rows could not be used ({str(error).splitlines()[0]}): computed again")
            self.con.execute(f"DROP TABLE IF EXISTS {ALIAS}.unit_meta")  # the next look keeps them anew
            return self._whole(build)

    def _rows(self, build: Build, keys: tuple[str, str | None], shape: str) -> str:
        meta = self._meta()
        if meta is not None:
            for table in (UNIT_TABLE, *map(_kept, self.companions)):  # kept rows that are gone: computed again
                self.con.execute(f"SELECT * FROM {table} LIMIT 0")
        if meta is not None and meta[:2] == (self.since, shape) and self.until < meta[2]:
            self.how.append("every unit computed (the window ends before the cached one)")
            return self._whole(build)
        if meta is None or meta[:2] != (self.since, shape):
            self._rebuild(build, shape)
        else:
            self._catch_up(build, keys, shape, upto=meta[2])
        return self._with_fresh(build, keys)

    def _shape(self, build: Build) -> str:
        """A digest of the per-unit statement with the window's ends left out: kept rows answer a
        statement of the same shape only (any value that changes from look to look changes it)."""
        sources = {name: None if getattr(self.logs, name) is None else dataclasses.replace(
            getattr(self.logs, name), relation=f"<{name}>", params=()) for name in ("predictions", "outcomes")}
        params = SqlParams()
        sql = build(Logs(connection=self.con, predictions=sources["predictions"],  # type: ignore[arg-type]
                         outcomes=sources["outcomes"], training=None), params)
        logs = Logs(connection=self.con, predictions=sources["predictions"],  # type: ignore[arg-type]
                    outcomes=sources["outcomes"], training=None)
        for name, companion in sorted(self.companions.items()):
            sql += f"\0{name}\0{companion(logs, params, self.unit)}"
        values = {k: "<since>" if v == self.since and v is not None else "<until>" if v == self.until else repr(v)
                  for k, v in params.values.items()}
        return hashlib.sha256(f"{sql}\0{sorted(values.items())}".encode()).hexdigest()

    def _meta(self) -> tuple[datetime | None, str, datetime] | None:
        try:
            found = self.con.execute(f"SELECT since, shape, upto FROM {ALIAS}.unit_meta").fetchall()
        except duckdb.CatalogException:
            return None
        return (found[0][0], found[0][1], found[0][2]) if found else None

    def _sources(self, where: dict[str, str], with_fresh: bool) -> Logs:
        """The look's logs with each source narrowed to the cached rows satisfying `where[source]`, and
        the new files when `with_fresh` (none of either: no rows, the source's columns)."""
        bound: dict[str, BoundSource | None] = {}
        for name in ("predictions", "outcomes"):
            source: BoundSource | None = getattr(self.logs, name)
            if source is None:
                bound[name] = None
                continue
            parts = []
            if self.cached.get(name):
                parts.append(f"SELECT * FROM {ALIAS}.main.{name} WHERE {where[name]}")
            if with_fresh and self.fresh.get(name):
                parts.append("SELECT * FROM read_parquet($files)")
            if not parts:
                parts.append("SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {_quoted(column)}"
                                                   for column, kind in source.columns.items()) + " LIMIT 0")
            bound[name] = _Narrowed(name=source.name, description=source.description,
                                    relation="(" + " UNION ALL BY NAME ".join(parts) + ")",
                                    params=(self.fresh.get(name, []),), columns=source.columns, roles=source.roles)
        return Logs(connection=self.con, predictions=bound["predictions"],  # type: ignore[arg-type]
                    outcomes=bound["outcomes"], training=None)

    def _select(self, build: Build, over: Logs) -> tuple[str, dict[str, object]]:
        params = SqlParams()
        sql = build(over, params)
        return sql, params.values

    def _whole(self, build: Build) -> str:
        """Every unit from the cached rows and the new files, for this look only; the logs' own errors
        are said as the full read says them (DataError)."""
        over = self._sources({"predictions": "true", "outcomes": "true"}, with_fresh=True)
        sql, values = self._select(build, over)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE look_units AS {sql}", values)
            for name in self.companions:
                self._store(f"CREATE OR REPLACE TEMP TABLE look_{name} AS", name, over)
                self.relations[name] = f"look_{name}"
        except duckdb.Error as error:
            raise DataError(f"reading the logs failed: {first_line(error)}") from None
        return "look_units"

    def _store(self, statement: str, name: str, over: Logs) -> None:
        """`statement` (CREATE … AS, INSERT INTO … BY NAME) followed by companion `name`'s SELECT over `over`."""
        params = SqlParams()
        self.con.execute(f"{statement} {self.companions[name](over, params, self.unit)}", params.values)

    def _rebuild(self, build: Build, shape: str) -> None:
        """Every unit from the cached rows, kept for window (since, until]."""
        over = self._sources({"predictions": "true", "outcomes": "true"}, with_fresh=False)
        sql, values = self._select(build, over)
        self.con.execute("BEGIN")
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {UNIT_TABLE} AS {sql}", values)
            for name in self.companions:
                self._store(f"CREATE OR REPLACE TABLE {_kept(name)} AS", name, over)
            self.con.execute(f"UPDATE {ALIAS}.files SET in_units = absorbed")
            self._mark(shape, self.until)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.how.append("every unit computed from the cached rows and kept")

    def _catch_up(self, build: Build, keys: tuple[str, str | None], shape: str, upto: datetime) -> None:
        """Recompute and keep the units of newly absorbed files and of cached rows in (upto, until]."""
        pending = {name: [p for (p,) in self.con.execute(
            f"SELECT path FROM {ALIAS}.files WHERE source = ? AND absorbed AND NOT in_units", [name]).fetchall()]
            for name in ("predictions", "outcomes")}
        parts: list[str] = []
        values: list[object] = []
        for name, key in zip(("predictions", "outcomes"), keys):
            source: BoundSource | None = getattr(self.logs, name)
            if key is None or source is None:
                continue
            if pending[name]:
                parts.append(f"SELECT DISTINCT {key} AS unit FROM read_parquet(?) WHERE {key} IS NOT NULL")
                values.append(pending[name])
            if self.cached.get(name) and self.until > upto:
                ts = source.column("ts", "timestamp")
                parts.append(f"SELECT DISTINCT {key} AS unit FROM {ALIAS}.main.{name} "
                             f"WHERE {ts} > ? AND {ts} <= ? AND {key} IS NOT NULL")
                values += [upto, self.until]
        self.con.execute("BEGIN")
        try:
            if parts:
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE touched AS {' UNION '.join(parts)}", values)
                n = self.con.execute("SELECT count(*) FROM touched").fetchall()[0][0]
                if n:
                    over = self._sources(_in_touched(keys), with_fresh=False)
                    sql, params = self._select(build, over)
                    self.con.execute(f"DELETE FROM {UNIT_TABLE} WHERE unit IN (SELECT unit FROM touched)")
                    self.con.execute(f"INSERT INTO {UNIT_TABLE} BY NAME {sql}", params)
                    for name in self.companions:
                        self.con.execute(f"DELETE FROM {_kept(name)} WHERE unit IN (SELECT unit FROM touched)")
                        self._store(f"INSERT INTO {_kept(name)} BY NAME", name, over)
                    self.how.append(f"{n} units recomputed and kept")
            self.con.execute(f"UPDATE {ALIAS}.files SET in_units = true WHERE absorbed AND NOT in_units")
            self._mark(shape, max(upto, self.until))
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _with_fresh(self, build: Build, keys: tuple[str, str | None]) -> str:
        """The kept rows, with the units of the files not absorbed recomputed for this look only."""
        parts: list[str] = []
        values: list[object] = []
        for name, key in zip(("predictions", "outcomes"), keys):
            if key is not None and self.fresh.get(name):
                parts.append(f"SELECT DISTINCT {key} AS unit FROM read_parquet(?) WHERE {key} IS NOT NULL")
                values.append(self.fresh[name])
        if not parts:
            self.relations.update({name: _kept(name) for name in self.companions})
            return UNIT_TABLE
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE touched AS {' UNION '.join(parts)}", values)
        over = self._sources(_in_touched(keys), with_fresh=True)
        sql, params = self._select(build, over)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE look_units AS {sql}", params)
        for name in self.companions:
            self._store(f"CREATE OR REPLACE TEMP TABLE look_{name} AS", name, over)
            self.relations[name] = (f"(SELECT * FROM {_kept(name)} WHERE unit NOT IN (SELECT unit FROM touched) "
                                    f"UNION ALL BY NAME SELECT * FROM look_{name})")
        self.how.append("the units of the files not absorbed recomputed for this look")
        # (touched holds no NULL: `x NOT IN (…, NULL)` is never true)
        return (f"(SELECT * FROM {UNIT_TABLE} WHERE unit NOT IN (SELECT unit FROM touched) "
                "UNION ALL BY NAME SELECT * FROM look_units)")

    def _mark(self, shape: str, upto: datetime) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {ALIAS}.unit_meta (since TIMESTAMP, shape VARCHAR, upto TIMESTAMP)")
        self.con.execute(f"INSERT INTO {ALIAS}.unit_meta VALUES (?, ?, ?)", [self.since, shape, upto])


def _kept(name: str) -> str:
    return f"{ALIAS}.main.{name}"


def _in_touched(keys: tuple[str, str | None]) -> dict[str, str]:
    return {"predictions": f"{keys[0]} IN (SELECT unit FROM touched)",
            "outcomes": "false" if keys[1] is None else f"{keys[1]} IN (SELECT unit FROM touched)"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Narrowed(BoundSource):
    """A source over named parameters: `$files` (the new files) — see `UnitTable._sources`."""

    def from_item(self, params: SqlParams) -> str:
        if "$files" not in self.relation:
            return self.relation
        return self.relation.replace("$files", params.add(self.params[0]))
