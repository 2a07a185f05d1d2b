"""The data-quality counts kept in the cache: a look adds the rows that entered its window since the
last one instead of counting every cached row again.

Contract (docs/incremental.md, "Data-quality counts"):
- `kept_quality(units, since, until, events)` gives the `DataQuality` that `data.quality.data_quality`
  gives over the look's rows, or None when the caller must count in full: the window ends before the
  kept one (`--until` in the past), the screen finds a repeated key (the exact count runs in full,
  as it does without the cache), or the kept counts cannot be read.
- Kept for the window [since, upto]: the rows, keyed rows and rows of an unknown arm; each unknown
  arm value's rows; the distinct hashes of the keys of prediction rows (request and arm, or unit,
  time and arm) and of the outcome rows of the guards' events (their rows too). A look with the
  same `since` and statement adds exactly the rows that entered: the cached rows stamped in
  (upto, until], and the rows stamped up to `upto` of the files absorbed since (`files.in_quality`
  false) — every row once, whatever order files and timestamps come in — then moves `upto` to
  `until`, in one transaction with the file marks. Another `since` or statement counts the cached
  rows again and keeps them. The files not yet absorbed are added for this look only.
- The distinct count of the keys is a hash screen, as in data/quality.py: no repeat among the
  hashes means no repeated key; a repeat sends the look to the exact count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

import duckdb

from rollout_cli.data.quality import SHOWN_ARMS, DataQuality, outcome_key, prediction_key
from rollout_cli.data.queries import ts_filter
from rollout_cli.data.scans import flag_check
from rollout_cli.data.source import BoundSource, SqlParams
from rollout_cli.logcache.units import ALIAS, UnitTable

TABLES = ("quality_meta", "quality_totals", "quality_keys", "quality_outcome_keys", "quality_arms")
_KNOWN = "('baseline', 'candidate')"


@dataclass(frozen=True)
class WindowCounts:
    """What the light scan counts (data.scans.window_facts without answers), and the data quality."""

    total_rows: int  # in the source
    window_rows: int
    first_ts: datetime | None
    last_ts: datetime | None
    no_unit_rows: int
    quality: DataQuality | None  # None: a repeated key, counted exactly in full
    odd_flags: bool = False  # a window row holds another value than 0 and 1 in a numeric flag column


def kept_counts(units: UnitTable, since: datetime | None, until: datetime, events: tuple[str, ...],
                flags: tuple[str, ...] = ()) -> WindowCounts | None:
    """See the module contract. `flags`: numeric true/false columns (data.scans.numeric_flags), whose
    other values than 0 and 1 are kept as one boolean, as the light scan reads them."""
    try:
        found, how = _Look(units, since, until, events, flags).counts()
    except duckdb.Error as error:
        units.con.execute(f"DROP TABLE IF EXISTS {ALIAS}.quality_meta")  # the next look counts anew
        found, how = None, f"the kept counts could not be used ({str(error).splitlines()[0]})"
    units.how.append(f"data-quality counts {how}")
    return found


class _Look:
    def __init__(self, units: UnitTable, since: datetime | None, until: datetime, events: tuple[str, ...],
                 flags: tuple[str, ...]) -> None:
        self.con, self.units, self.since, self.until = units.con, units, since, until
        preds, outs = units.logs.predictions, units.logs.outcomes
        self.preds: BoundSource = preds
        self.outs: BoundSource | None = outs if events and outs is not None else None
        self.events = events
        key, self.key_words, keyed = prediction_key(preds)
        arm = preds.column("arm", "text")
        odd = [f"coalesce({flag_check(preds.column('flag', 'flag', column=c))}, false)" for c in flags]
        self.pred_select = (f"SELECT hash{key} AS h, {keyed} AS keyed, CAST({arm} AS VARCHAR) AS arm, "
                            f"{arm} IS NULL OR {arm} NOT IN {_KNOWN} AS unknown, "
                            f"CAST({preds.column('ts', 'timestamp')} AS TIMESTAMP) AS ts, "
                            f"{preds.column('unit_id', 'any')} IS NULL AS no_unit, "
                            f"{' OR '.join(odd) if odd else 'false'} AS odd")
        if self.outs is not None:
            self.out_select = f"SELECT hash{outcome_key(self.outs)} AS h"

    def _rows(self, source: BoundSource, select: str, relation: str, params: SqlParams, low: datetime | None,
              high: datetime, above: datetime | None = None) -> str:
        """`select` over `relation`'s rows stamped in [low, high] (and after `above`)."""
        ts = source.column("ts", "timestamp")
        where = ts_filter(ts, low, high, params)
        if above is not None:
            where += f" AND {ts} > {params.add(above)}"
        if source is self.outs:
            where += f" AND {source.column('event', 'text')} IN ({', '.join(params.add(e) for e in self.events)})"
        return f"{select} FROM {relation} WHERE {where}"

    def _entered(self, name: str, upto: datetime | None, params: SqlParams) -> str:
        """The rows of source `name` that entered the window since the kept counts (all with `upto` None)."""
        source = self.preds if name == "predictions" else self.outs
        assert source is not None
        select = self.pred_select if name == "predictions" else self.out_select
        parts = [] if not self.units.cached.get(name) else [
            self._rows(source, select, f"{ALIAS}.main.{name}", params, self.since, self.until, upto)]
        pending = [p for (p,) in self.con.execute(f"SELECT path FROM {ALIAS}.files WHERE source = ? AND absorbed "
                                                   "AND NOT in_quality", [name]).fetchall()]
        if upto is not None and pending:
            parts.append(self._rows(source, select, f"read_parquet({params.add(pending)})", params, self.since, upto))
        if not parts:  # nothing cached of this source: no rows, the same columns
            empty = ("false AS keyed, NULL::VARCHAR AS arm, false AS unknown, NULL::TIMESTAMP AS ts, false AS no_unit, "
                     "false AS odd"
                     if name == "predictions" else "")
            return f"SELECT NULL::UBIGINT AS h{', ' + empty if empty else ''} WHERE false"
        return " UNION ALL ".join(parts)

    def _fresh(self, name: str, params: SqlParams) -> str | None:
        source = self.preds if name == "predictions" else self.outs
        files = self.units.fresh.get(name)
        if source is None or not files:
            return None
        select = self.pred_select if name == "predictions" else self.out_select
        return self._rows(source, select, f"read_parquet({params.add(files)})", params, self.since, self.until)

    def _shape(self) -> str:
        text = f"{self.pred_select}\0{getattr(self, 'out_select', '')}\0{self.events}"
        return hashlib.sha256(text.encode()).hexdigest()

    def counts(self) -> tuple[WindowCounts | None, str]:
        """The counts (None: count in full) and what was done, in words."""
        shape = self._shape()
        try:
            meta = self.con.execute(f"SELECT since, upto, shape FROM {ALIAS}.quality_meta").fetchall()
        except duckdb.CatalogException:
            meta = []
        same = bool(meta) and meta[0][0] == self.since and meta[0][2] == shape
        if same and self.until < meta[0][1]:
            return None, "read in full (the window ends before the kept one)"
        self.con.execute("BEGIN")
        try:
            if not same:
                self._empty()
            self._add(meta[0][1] if same else None)
            self.con.execute(f"UPDATE {ALIAS}.files SET in_quality = true WHERE absorbed AND NOT in_quality")
            self.con.execute(f"CREATE OR REPLACE TABLE {ALIAS}.quality_meta (since TIMESTAMP, upto TIMESTAMP, "
                             "shape VARCHAR)")
            self.con.execute(f"INSERT INTO {ALIAS}.quality_meta VALUES (?, ?, ?)",
                             [self.since, max(self.until, meta[0][1]) if same else self.until, shape])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        found = self._read()
        return found, ("read in full (a repeated key: counted exactly)" if found.quality is None
                       else "brought up to date" if same else "counted from the cached rows and kept")

    def _empty(self) -> None:
        for table, columns in (("quality_totals", ("rows BIGINT, keyed BIGINT, unknown BIGINT, outcome_rows BIGINT, "
                                                  "no_unit BIGINT, first_ts TIMESTAMP, last_ts TIMESTAMP, odd BOOLEAN")),
                               ("quality_keys", "h UBIGINT"), ("quality_outcome_keys", "h UBIGINT"),
                               ("quality_arms", "arm VARCHAR, n BIGINT")):
            self.con.execute(f"CREATE OR REPLACE TABLE {ALIAS}.{table} ({columns})")
        self.con.execute(f"INSERT INTO {ALIAS}.quality_totals VALUES (0, 0, 0, 0, 0, NULL, NULL, false)")
        self.con.execute(f"UPDATE {ALIAS}.files SET in_quality = false")

    def _add(self, upto: datetime | None) -> None:
        """Add the rows that entered the window to the kept counts (see the module contract)."""
        params = SqlParams()
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE entered AS {self._entered('predictions', upto, params)}",
                         params.values)
        outcome_rows = 0
        if self.outs is not None:
            params = SqlParams()
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE entered_outcomes AS "
                             f"{self._entered('outcomes', upto, params)}", params.values)
            outcome_rows = self.con.execute("SELECT count(*) FROM entered_outcomes").fetchall()[0][0]
            self.con.execute(f"INSERT INTO {ALIAS}.quality_outcome_keys SELECT DISTINCT h FROM entered_outcomes "
                             f"ANTI JOIN {ALIAS}.quality_outcome_keys USING (h)")
        self.con.execute(f"UPDATE {ALIAS}.quality_totals SET rows = rows + e.n, keyed = keyed + e.k, "
                         f"unknown = unknown + e.u, outcome_rows = outcome_rows + ?, no_unit = no_unit + e.nu, "
                         "first_ts = least(first_ts, e.f), last_ts = greatest(last_ts, e.l), odd = odd OR e.o FROM (SELECT "
                         "count(*) AS n, count(*) FILTER (WHERE keyed) AS k, count(*) FILTER (WHERE unknown) AS u, "
                         "count(*) FILTER (WHERE no_unit) AS nu, min(ts) AS f, max(ts) AS l, coalesce(bool_or(odd), "
                         "false) AS o FROM entered) e", [outcome_rows])
        self.con.execute(f"INSERT INTO {ALIAS}.quality_keys SELECT DISTINCT h FROM (SELECT h FROM entered WHERE keyed) "
                         f"ANTI JOIN {ALIAS}.quality_keys USING (h)")
        self.con.execute(f"INSERT INTO {ALIAS}.quality_arms SELECT arm, count(*) FROM entered WHERE unknown GROUP BY arm")

    def _read(self) -> WindowCounts:
        """The kept counts with the files not absorbed added (see the module contract)."""
        rows, keyed, unknown, outcome_rows, no_unit, first, last, odd = self.con.execute(
            f"SELECT rows, keyed, unknown, outcome_rows, no_unit, first_ts, last_ts, odd FROM {ALIAS}.quality_totals"
        ).fetchall()[0]
        total = self.con.execute(f"SELECT count(*) FROM {ALIAS}.main.predictions").fetchall()[0][0] \
            if self.units.cached.get("predictions") else 0
        params = SqlParams()
        fresh = self._fresh("predictions", params)
        new_keys = 0
        if fresh is not None:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE look_rows AS {fresh}", params.values)
            more = self.con.execute("SELECT count(*), count(*) FILTER (WHERE keyed), count(*) FILTER (WHERE unknown), "
                                    "count(*) FILTER (WHERE no_unit), min(ts), max(ts), bool_or(odd) FROM look_rows"
                                    ).fetchall()[0]
            odd = odd or bool(more[6])
            rows, keyed, unknown, no_unit = rows + more[0], keyed + more[1], unknown + more[2], no_unit + more[3]
            first, last = min(filter(None, (first, more[4])), default=None), max(filter(None, (last, more[5])), default=None)
            new_keys = self.con.execute(f"SELECT count(DISTINCT h) FROM (SELECT h FROM look_rows WHERE keyed) "
                                        f"ANTI JOIN {ALIAS}.quality_keys USING (h)").fetchall()[0][0]
            total += self.con.execute("SELECT count(*) FROM read_parquet(?)",
                                      [self.units.fresh["predictions"]]).fetchall()[0][0]
        counts = WindowCounts(int(total), int(rows), first, last, int(no_unit), None, bool(odd))
        distinct = self.con.execute(f"SELECT count(*) FROM {ALIAS}.quality_keys").fetchall()[0][0] + new_keys
        if keyed - distinct:
            return counts  # a repeated hash: the exact count decides (data/quality.py)
        outcome_dups = 0
        if self.outs is not None:
            params = SqlParams()
            fresh_outcomes = self._fresh("outcomes", params)
            distinct = self.con.execute(f"SELECT count(*) FROM {ALIAS}.quality_outcome_keys").fetchall()[0][0]
            if fresh_outcomes is not None:
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE look_outcomes AS {fresh_outcomes}", params.values)
                outcome_rows += self.con.execute("SELECT count(*) FROM look_outcomes").fetchall()[0][0]
                distinct += self.con.execute(f"SELECT count(DISTINCT h) FROM look_outcomes ANTI JOIN "
                                             f"{ALIAS}.quality_outcome_keys USING (h)").fetchall()[0][0]
            outcome_dups = outcome_rows - distinct
            if outcome_dups:
                return counts
        arms: tuple[tuple[str | None, int], ...] = ()
        if unknown:
            look = " UNION ALL SELECT arm, 1 FROM look_rows WHERE unknown" if fresh is not None else ""
            arms = tuple((value, int(n)) for value, n in self.con.execute(
                f"SELECT arm AS value, sum(n) AS n FROM (SELECT arm, n FROM {ALIAS}.quality_arms{look}) "
                f"GROUP BY ALL ORDER BY n DESC, value LIMIT {SHOWN_ARMS}").fetchall())
        return replace(counts, quality=DataQuality(int(rows), 0, self.key_words, int(outcome_rows), int(outcome_dups),
                                                   int(unknown), arms))
