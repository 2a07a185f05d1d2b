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
  tables and recomputed with the same touched units in the same transactions; `parts[name]` is
  then what the look reads of each: (the kept rows, the kept rows of the units the look recomputes
  for itself or None, the look's rows of those units or None) — the look's rows are kept - gone + look.
- Kept sums (logcache/sums.py): `rows` returns the per-unit rows' cells (arm × segments, summed by
  `cells`), and `summaries[name]` of a companion gives `summed[name]`; each is kept beside its table
  and moved by differences (old rows of the touched units out, new in), in the same transactions: a
  look reads sums over what changed, never a pass over every unit.
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
from rollout_cli.logcache.sums import Summary, combined, kept_name

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
    parts: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)  # companion -> (kept, gone, look)
    summaries: dict[str, Summary] = field(default_factory=dict)  # table name -> its kept sums ("unit_rows": cells)
    summed: dict[str, str] = field(default_factory=dict)  # table name -> FROM item of the look's sums
    unit: str = "unit"  # the unit expression over predictions (set by `rows`)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.logs.connection

    def rows(self, build: Build, keys: tuple[str, str | None], since: datetime | None, until: datetime,
             cells: Callable[[str], str]) -> str:
        """A FROM item with the cells' sums (`cells` over per-unit rows: arm × segments) of the per-unit
        rows of the look over (since, until] (see the module contract). Kept rows or sums that cannot be
        read are dropped and computed again (with a word in `how`)."""
        self.since, self.until, self.unit = since, until, keys[0]
        self.summaries["unit_rows"] = Summary(cells, "n")
        self.parts, self.summed = {}, {}
        shape = self._shape(build)
        try:
            self._rows(build, keys, shape)
        except duckdb.Error as error:
            self.how.append(f"the kept per-unit rows could not be used ({str(error).splitlines()[0]}): computed again")
            self.con.execute(f"DROP TABLE IF EXISTS {ALIAS}.unit_meta")  # the next look keeps them anew
            self._whole(build)
        return self.summed["unit_rows"]

    def _tables(self) -> list[str]:
        """The kept tables' names: the per-unit rows, then each companion."""
        return ["unit_rows", *self.companions]

    def _rows(self, build: Build, keys: tuple[str, str | None], shape: str) -> None:
        meta = self._meta()
        if meta is not None:
            for table in self._tables():  # kept rows or sums that are gone: computed again
                self.con.execute(f"SELECT * FROM {_kept(table)} LIMIT 0")
                if table in self.summaries:
                    self.con.execute(f"SELECT * FROM {_kept(kept_name(table))} LIMIT 0")
        if meta is not None and meta[:2] == (self.since, shape) and self.until < meta[2]:
            self.how.append("every unit computed (the window ends before the cached one)")
            self._whole(build)
            return
        if meta is None or meta[:2] != (self.since, shape):
            self._rebuild(build, shape)
        else:
            self._catch_up(build, keys, shape, upto=meta[2])
        self._with_fresh(build, keys)

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
        for name, summary in sorted(self.summaries.items()):
            sql += f"\0{name}\0{summary.select('<rows>')}"
        values = {k: "<since>" if v == self.since and v is not None else "<until>" if v == self.until else repr(v)
                  for k, v in params.values.items()}
        return hashlib.sha256(f"{sql}\0{sorted(values.items())}".encode()).hexdigest()

    def _meta(self) -> tuple[datetime | None, str, datetime] | None:
        try:
            found = self.con.execute(f"SELECT since, shape, upto FROM {ALIAS}.unit_meta").fetchall()
        except duckdb.CatalogException:
            return None
        return (found[0][0], found[0][1], found[0][2]) if found else None

    def _sources(self, where: dict[str, str], with_fresh: bool, copied: bool = False) -> Logs:
        """The look's logs with each source narrowed to the cached rows satisfying `where[source]`, and
        the new files when `with_fresh` (none of either: no rows, the source's columns). `copied`: those
        cached rows are copied into a temp table first, so that the per-unit statement and each
        companion read them without finding them again (one semi-join per source, not one per reader)."""
        bound: dict[str, BoundSource | None] = {}
        for name in ("predictions", "outcomes"):
            source: BoundSource | None = getattr(self.logs, name)
            if source is None:
                bound[name] = None
                continue
            parts = []
            if self.cached.get(name) and copied:
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE touched_{name} AS "
                                 f"SELECT * FROM {ALIAS}.main.{name} WHERE {where[name]}")
                parts.append(f"SELECT * FROM touched_{name}")
            elif self.cached.get(name):
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

    def _whole(self, build: Build) -> None:
        """Every unit from the cached rows and the new files, for this look only; the logs' own errors
        are said as the full read says them (DataError)."""
        over = self._sources({"predictions": "true", "outcomes": "true"}, with_fresh=True)
        sql, values = self._select(build, over)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE look_unit_rows AS {sql}", values)
            for name in self.companions:
                self._store(f"CREATE OR REPLACE TEMP TABLE look_{name} AS", name, over)
                self.parts[name] = (f"look_{name}", None, None)
            self._sum_look(minus=False)
        except duckdb.Error as error:
            raise DataError(f"reading the logs failed: {first_line(error)}") from None

    def _sum_look(self, *, minus: bool, kept: bool = False) -> None:
        """The look's sums of each summarised table: the kept sums (`kept`), less the kept rows of the
        touched units (`minus`: temp tables gone_NAME), plus the look's own rows (temp tables look_NAME,
        when `minus` or not `kept`)."""
        for name, summary in self.summaries.items():
            sql = combined(self.con, summary, kept=_kept(kept_name(name)) if kept else None, final=True,
                           plus=f"look_{name}" if minus or not kept else None, minus=f"gone_{name}" if minus else None)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE look_sums_{name} AS {sql}")
            self.summed[name] = f"look_sums_{name}"

    def _store(self, statement: str, name: str, over: Logs, hashed: bool = False) -> None:
        """`statement` (CREATE … AS, INSERT INTO … BY NAME) followed by companion `name`'s SELECT over `over`;
        `hashed`: with `uh`, an integer hash of the unit (what kept rows are found by, `_gone`)."""
        params = SqlParams()
        sql = self.companions[name](over, params, self.unit)
        self.con.execute(f"{statement} {_hashed(sql) if hashed else sql}", params.values)

    def _rebuild(self, build: Build, shape: str) -> None:
        """Every unit from the cached rows, kept for window (since, until]."""
        over = self._sources({"predictions": "true", "outcomes": "true"}, with_fresh=False)
        sql, values = self._select(build, over)
        self.con.execute("BEGIN")
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {UNIT_TABLE} AS {_hashed(sql)}", values)
            for name in self.companions:
                self._store(f"CREATE OR REPLACE TABLE {_kept(name)} AS", name, over, hashed=True)
            for name, summary in self.summaries.items():
                self.con.execute(f"CREATE OR REPLACE TABLE {_kept(kept_name(name))} AS {summary.select(_kept(name))}")
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
                    over = self._sources(_in_touched(keys), with_fresh=False, copied=True)
                    sql, params = self._select(build, over)
                    self.con.execute(f"CREATE OR REPLACE TEMP TABLE new_unit_rows AS {_hashed(sql)}", params)
                    for name in self.companions:
                        self._store(f"CREATE OR REPLACE TEMP TABLE new_{name} AS", name, over, hashed=True)
                    for name in self._tables():  # the kept sums move first: they read the old rows
                        self._gone(name)
                        if name in self.summaries:
                            self._move_sums(name)
                        self.con.execute(f"DELETE FROM {_kept(name)} WHERE rowid IN (SELECT rid FROM gone_{name})")
                        self.con.execute(f"INSERT INTO {_kept(name)} BY NAME SELECT * FROM new_{name}")
                    self.how.append(f"{n} units recomputed and kept")
            self.con.execute(f"UPDATE {ALIAS}.files SET in_units = true WHERE absorbed AND NOT in_units")
            self._mark(shape, max(upto, self.until))
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _gone(self, name: str) -> None:
        """Temp table gone_NAME: the kept rows of `name` of the units in `touched`, with their `rid` — found
        by the integer hash `uh` (a narrow column, not the unit's text), then checked on the unit itself."""
        self.con.execute("CREATE OR REPLACE TEMP TABLE touched_hashes AS SELECT DISTINCT hash(unit) AS h FROM touched")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE gone_{name} AS SELECT rowid AS rid, * FROM {_kept(name)} "
                         "WHERE uh IN (SELECT h FROM touched_hashes)")
        self.con.execute(f"DELETE FROM gone_{name} WHERE unit NOT IN (SELECT unit FROM touched)")  # another unit's hash

    def _move_sums(self, name: str) -> None:
        """Kept sums of `name` += the touched units' new rows (temp table new_NAME) - their kept rows."""
        summary, sums = self.summaries[name], _kept(kept_name(name))
        sql = combined(self.con, summary, kept=sums, plus=f"new_{name}", minus=f"gone_{name}")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE moved_sums AS {sql}")
        self.con.execute(f"DELETE FROM {sums}")
        self.con.execute(f"INSERT INTO {sums} BY NAME SELECT * FROM moved_sums")

    def _with_fresh(self, build: Build, keys: tuple[str, str | None]) -> None:
        """The kept rows, with the units of the files not absorbed recomputed for this look only."""
        parts: list[str] = []
        values: list[object] = []
        for name, key in zip(("predictions", "outcomes"), keys):
            if key is not None and self.fresh.get(name):
                parts.append(f"SELECT DISTINCT {key} AS unit FROM read_parquet(?) WHERE {key} IS NOT NULL")
                values.append(self.fresh[name])
        if not parts:
            self.parts.update({name: (_kept(name), None, None) for name in self.companions})
            self._sum_look(minus=False, kept=True)
            return
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE touched AS {' UNION '.join(parts)}", values)
        over = self._sources(_in_touched(keys), with_fresh=True, copied=True)
        sql, params = self._select(build, over)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE look_unit_rows AS {sql}", params)
        for name in self._tables():  # the kept rows the look's own replace
            self._gone(name)
        for name in self.companions:
            self._store(f"CREATE OR REPLACE TEMP TABLE look_{name} AS", name, over)
            self.parts[name] = (_kept(name), f"gone_{name}", f"look_{name}")
        self._sum_look(minus=True, kept=True)
        self.how.append("the units of the files not absorbed recomputed for this look")

    def _mark(self, shape: str, upto: datetime) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {ALIAS}.unit_meta (since TIMESTAMP, shape VARCHAR, upto TIMESTAMP)")
        self.con.execute(f"INSERT INTO {ALIAS}.unit_meta VALUES (?, ?, ?)", [self.since, shape, upto])


def _hashed(sql: str) -> str:
    """A per-unit SELECT with `uh`, the unit's integer hash, beside its columns."""
    return f"SELECT *, hash(unit) AS uh FROM ({sql})"


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
