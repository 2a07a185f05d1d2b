"""Every figure of the shadow comparison, accumulated batch by batch from the pairing join's stream.

Contract (docs/shadow.md, "How it reads the logs, and how fast"):
- `Tally(segments, scores, limit, ...)` takes the join's Arrow record batches (`add`), whose columns
  shadow.stream names: `drop_` (0 kept; 1 no unit; 2 candidate only), `st` (the request's state bits,
  STATE_BITS), `g` and `slot` (the unit hash's random group and counting slot), `ts_us`, latencies,
  log-latency ratio and latency bins, answers and score bins, `urid`/`drid`/`dh` (ids of unanswered
  and disagreeing requests, and the latter's stable hash), `s0`..., `y`. Each batch is reduced at
  once with numpy (`np.bincount` on combined cell keys); only the scored requests' two scores (and
  outcome flags) are kept whole, for the joint bins at edges known only at the end.
- The results are the same structures the SQL passes give (shadow.scans): `unit_sums()` per population
  per ratio, `join_counts()` for the repeat check, `score_row()`/`score_hists()` for
  `scans.summary_from`, `score_bins(edges)`, `load_frames()` for `scans.buckets_from`, `confusion()`,
  `examples()` — so both paths share the arithmetic that turns them into figures.
numpy and pyarrow are imported by the caller (shadow.stream) and here, lazily through it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rollout_cli.shadow import histograms
from rollout_cli.shadow.pairs import JoinCounts
from rollout_cli.shadow.scans import GROUPS, SLOT_WORDS, Population, RatioSums
from rollout_cli.stats.random_groups import linear_count

PAIRED, AGREE, LATE, CERR, BERR, UNUSUAL = 1, 2, 4, 8, 16, 32  # the state bits (`st`)
STATES = 64
SLOTS = 32 * SLOT_WORDS  # counting slots per random group
NO_BIN = 1 << 30  # a bin column's "no value" (no value to bin there)
EPOCH = datetime(1970, 1, 1)


def group_sums(keys: Any, *weights: Any) -> tuple[Any, Any, list[Any]]:
    """(distinct keys, rows per key, each weight's sum per key) for one batch: a dense bincount over
    the keys' range when it is small, np.unique otherwise."""
    if not len(keys):
        return keys[:0], np.zeros(0), [np.zeros(0) for _ in weights]
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo <= 4 * len(keys) + 4096:
        local = keys - lo
        counts = np.bincount(local)
        present = np.flatnonzero(counts)
        return present + lo, counts[present], [np.bincount(local, w, len(counts))[present] for w in weights]
    found, inverse = np.unique(keys, return_inverse=True)
    return found, np.bincount(inverse), [np.bincount(inverse, w) for w in weights]


class Merged:
    """Per-batch `group_sums` results, merged at the end."""

    def __init__(self) -> None:
        self.parts: list[tuple[Any, Any, list[Any]]] = []

    def add(self, keys: Any, *weights: Any) -> None:
        self.parts.append(group_sums(keys, *weights))

    def add_pairs(self, major: Any, minor: Any) -> None:
        """Rows per (major, minor) key pair (both int64; minor within +-2^31): a dense bincount over the
        batch's ranges of both, stored under major * 2^32 + minor + 2^31."""
        if not len(major):
            return
        m_lo, n_lo = int(major.min()), int(minor.min())
        width = int(minor.max()) - n_lo + 1
        counts = np.bincount((major - m_lo) * width + (minor - n_lo))
        present = np.flatnonzero(counts)
        keys = (present // width + m_lo) * (1 << 32) + (present % width + n_lo + (1 << 31))
        self.parts.append((keys, counts[present], []))

    def result(self) -> tuple[Any, Any, list[Any]]:
        if not self.parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0), []
        keys = np.concatenate([p[0] for p in self.parts])
        found, inverse = np.unique(keys, return_inverse=True)
        counts = np.bincount(inverse, np.concatenate([p[1] for p in self.parts]).astype(np.float64))
        sums = [np.bincount(inverse, np.concatenate([p[2][i] for p in self.parts]))
                for i in range(len(self.parts[0][2]))]
        return found, counts, sums


def _grow(array: Any, size: int) -> Any:
    if len(array) >= size:
        return array
    out = np.zeros(max(size, 2 * len(array)), dtype=array.dtype)
    out[:len(array)] = array
    return out


class Cells:
    """The populations of one segment column (or of everyone, one code): requests per (value, random group,
    state), the latency sums per (value, group) (`Tally._latency_weights`: with the counts of unknown
    latencies) and the slot bits per (value, group, slot)."""

    def __init__(self) -> None:
        self.size = 0
        self.states = np.zeros(0)
        self.sums = [np.zeros(0) for _ in range(6)]
        self.bits = np.zeros(0, dtype=bool)

    def add(self, codes: Any, size: int, group: Any, st: Any, slot: Any, weights: list[Any | None] | None) -> None:
        if size > self.size:
            self.size = size
            self.states = _grow(self.states, size * GROUPS * STATES)
            self.sums = [_grow(s, size * GROUPS) for s in self.sums]
            self.bits = _grow(self.bits, size * GROUPS * SLOTS)
        cell = codes * GROUPS + group
        self.states[:size * GROUPS * STATES] += np.bincount(cell * STATES + st, minlength=size * GROUPS * STATES)
        self.bits[codes * (GROUPS * SLOTS) + slot] = True
        for i, w in enumerate(weights or ()):
            if w is not None:
                self.sums[i][:size * GROUPS] += np.bincount(cell, w, size * GROUPS)

    def ratios(self, code: int) -> dict[str, RatioSums] | None:
        """The population of value `code` (None when no request has it)."""
        if code >= self.size:
            return None
        states = self.states[code * GROUPS * STATES:(code + 1) * GROUPS * STATES].reshape(GROUPS, STATES)
        if not states.any():
            return None
        part = slice(code * GROUPS, (code + 1) * GROUPS)
        bits = self.bits[code * GROUPS * SLOTS:(code + 1) * GROUPS * SLOTS]
        return _ratios(states, [s[part] for s in self.sums], int(bits.sum()))


class Tally:
    def __init__(self, segments: tuple[str, ...], *, scores: bool, latency: bool, limit: int, hits: bool) -> None:
        self.segments, self.scores, self.latency, self.limit, self.hits = segments, scores, latency, limit, hits
        self.codes: list[dict[Any, int]] = [{} for _ in segments]
        self.values: list[list[Any]] = [[] for _ in segments]
        self.whole = Cells()
        self.cells = [Cells() for _ in segments]
        self.base_side = self.paired = self.candidate_only = self.dropped = self.unpaired = 0
        self.unanswered: list[Any] = []
        self.first_us: int | None = None
        # scored requests: baseline, candidate, their fine bins (, outcome flag)
        self.kept: list[tuple[Any, ...]] = []
        self.moments = Moments()
        self.hists = {k: Merged() for k in ("b", "c", "d")}
        self.minutes, self.minute_states = Merged(), Merged()
        self.b_lat_bins, self.c_lat_bins = Merged(), Merged()
        self.pairs: list[Any] = []  # label pairs, counted per batch
        self.shown: list[Any] = []  # the best `limit` disagreeing requests of each batch

    def _codes(self, i: int, column: Any) -> Any:
        """Segment values as small integers, the same across batches."""
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        codes, values = self.codes[i], self.values[i]
        mapping = []
        for value in encoded.dictionary.to_pylist():
            if value not in codes:
                codes[value] = len(values)
                values.append(value)
            mapping.append(codes[value])
        return np.asarray(mapping, dtype=np.int64)[encoded.indices.to_numpy(zero_copy_only=False)]

    def add(self, batch: Any) -> None:
        drop = batch.column("drop_").to_numpy()
        st_all = batch.column("st").to_numpy()
        self.base_side += int((drop != 2).sum())
        self.candidate_only += int((drop == 2).sum())
        self.paired += int(((st_all & PAIRED) != 0).sum())
        unanswered = batch.column("urid").drop_null()
        self.unpaired += int(((drop != 2) & ((st_all & PAIRED) == 0)).sum())
        if len(unanswered):
            self.unanswered.append(pc.unique(unanswered))
        if (drop != 0).any():
            self.dropped += int((drop != 0).sum())
            batch = batch.filter(pa.array(drop == 0))
        if not batch.num_rows:
            return
        st = batch.column("st").to_numpy().astype(np.int64)
        group = batch.column("g").to_numpy().astype(np.int64)
        slot = group * SLOTS + batch.column("slot").to_numpy().astype(np.int64)
        ts = batch.column("ts_us").to_numpy()
        self.first_us = int(ts.min()) if self.first_us is None else min(self.first_us, int(ts.min()))
        paired = (st & PAIRED) != 0
        weights = self._latency_weights(batch, paired) if self.latency else None
        if not self.segments:  # with segments, everyone is the sum over the first one's values
            self.whole.add(np.zeros(1, dtype=np.int64), 1, group, st, slot, weights)
        for i in range(len(self.segments)):
            codes = self._codes(i, batch.column(f"s{i}"))
            self.cells[i].add(codes, len(self.values[i]), group, st, slot, weights)
        if self.scores:
            self._scores(batch, paired)
        else:
            kept = pa.Table.from_batches([batch.select(["b_pred", "c_pred"]).filter(pa.array(paired))])
            self.pairs.append(kept.group_by(["b_pred", "c_pred"]).aggregate([([], "count_all")]))
        if self.latency:
            self._latency(batch, st, ts)
        if self.limit:
            self._examples(batch)

    @staticmethod
    def _latency_weights(batch: Any, paired: Any) -> list[Any | None]:
        """Per request: the paired latencies where both are known (candidate, baseline), the baseline's
        latency and whether unknown, the paired candidate's and whether unknown (the ratios of
        shadow.compare; None: nothing unknown in this batch, nothing to count)."""
        b, c = batch.column("b_lat").to_numpy(), batch.column("c_lat").to_numpy()
        c_known = ~np.isnan(c)  # a candidate's latency is only known when paired
        c0 = np.where(c_known, c, 0.0)
        c_unknown = None if np.array_equal(c_known, paired) else (paired & ~c_known).astype(np.float64)
        b_unknown = np.isnan(b)
        if not b_unknown.any():
            return [c0, np.where(c_known, b, 0.0), b, None, c0, c_unknown]
        b0 = np.where(b_unknown, 0.0, b)
        both = c_known & ~b_unknown
        return [np.where(both, c0, 0.0), np.where(both, b0, 0.0), b0, b_unknown.astype(np.float64), c0, c_unknown]

    def _scores(self, batch: Any, paired: Any) -> None:
        b, c = batch.column("b_pred").to_numpy(), batch.column("c_pred").to_numpy()
        scored = paired & ~np.isnan(b) & ~np.isnan(c)
        b, c = b[scored], c[scored]
        bins = {key: batch.column(f"{key}b").to_numpy()[scored] for key in ("b", "c", "d")}
        self.kept.append((b, c, bins["b"], bins["c"]) + ((batch.column("y").to_numpy()[scored],) if self.hits else ()))
        self.moments.add(b, c)
        for key, found in bins.items():
            self.hists[key].add(found)

    def _latency(self, batch: Any, st: Any, ts: Any) -> None:
        minute = ts // 60_000_000
        lr = batch.column("lr").to_numpy()
        known = ~np.isnan(lr)
        lr0 = np.where(known, lr, 0.0)
        # the baseline's requests without a latency count in their minute's load only (a null bin)
        unbinned = batch.column("blb").to_numpy() == NO_BIN
        self.minutes.add(minute, lr0, lr0 * lr0)
        self.minute_states.add_pairs(minute, (st & (BERR | PAIRED | CERR)) | (known << 6) | (unbinned << 7))
        for merged, name in ((self.b_lat_bins, "blb"), (self.c_lat_bins, "clb")):
            bins = batch.column(name).to_numpy().astype(np.int64)
            has = bins != NO_BIN
            merged.add_pairs(minute[has], bins[has])

    def _examples(self, batch: Any) -> None:
        names = ["drid", "dh", "ts_us", "b_pred", "c_pred"] + [f"s{i}" for i in range(len(self.segments))]
        rows = batch.select(names).filter(pc.is_valid(batch.column("drid")))
        if rows.num_rows:
            order = pc.sort_indices(rows, [("dh", "ascending"), ("drid", "ascending")])
            self.shown.append(rows.take(order[:self.limit]))

    # --- results -------------------------------------------------------------------------------------

    def join_counts(self) -> JoinCounts:
        distinct = len(pc.unique(pa.concat_arrays(self.unanswered))) if self.unanswered else 0
        return JoinCounts(self.base_side, self.paired, self.candidate_only, self.unpaired - distinct, self.dropped)

    def first_ts(self) -> datetime | None:
        return None if self.first_us is None else EPOCH + timedelta(microseconds=self.first_us)

    def unit_sums(self) -> dict[Population, dict[str, RatioSums]]:
        whole = self._whole().ratios(0)
        out: dict[Population, dict[str, RatioSums]] = {} if whole is None else {None: whole}
        for i, segment in enumerate(self.segments):
            for code, value in enumerate(self.values[i]):
                found = self.cells[i].ratios(code)
                if found is not None:
                    out[(segment, value)] = found
        return out

    def _whole(self) -> Cells:
        if not self.segments:
            return self.whole
        first, whole = self.cells[0], Cells()
        whole.size = 1
        whole.states = first.states[:first.size * GROUPS * STATES].reshape(-1, GROUPS * STATES).sum(axis=0)
        whole.sums = [s[:first.size * GROUPS].reshape(-1, GROUPS).sum(axis=0) for s in first.sums]
        whole.bits = first.bits[:first.size * GROUPS * SLOTS].reshape(-1, GROUPS * SLOTS).any(axis=0)
        return whole

    def flag_counts(self) -> dict[str, int]:
        """The paired and agreeing requests flagged unusual and the rest (compare's `request_figures`)."""
        n = self._whole().states[:GROUPS * STATES].reshape(GROUPS, STATES).sum(axis=0)
        st = np.arange(STATES)

        def count(mask: Any) -> int:
            return int(n[mask].sum())

        flagged, paired, agree = (st & UNUSUAL) != 0, (st & PAIRED) != 0, (st & AGREE) != 0
        return {"flagged_paired": count(flagged & paired), "flagged_agree": count(flagged & paired & agree),
                "rest_paired": count(~flagged & paired), "rest_agree": count(~flagged & paired & agree),
                "flagged_requests": count(flagged)}

    def scored(self) -> tuple[Any, ...]:
        """The scored requests' baseline and candidate scores (and whether an outcome names each)."""
        columns = (0, 1, 4) if self.hits else (0, 1)
        if not self.kept:
            return tuple(np.zeros(0) for _ in columns)
        return tuple(np.concatenate([k[i] for k in self.kept]) for i in columns)

    def score_row(self) -> tuple[Any, ...]:
        return self.moments.row()

    def score_hists(self) -> dict[str, dict[int, int]]:
        out = {}
        for key, merged in self.hists.items():
            found, counts, _ = merged.result()
            out[key] = {int(k): int(n) for k, n in zip(found, counts)}
        return out

    def score_bins(self, edges: list[float]) -> list[tuple[int, int, int]]:
        """(baseline bin, candidate bin, requests): bin i ends at edge i (the first edge at or above)."""
        size = len(edges) + 1
        counts = np.zeros(size * size, dtype=np.int64)
        for b, c, b_fine, c_fine, *_ in self.kept:
            key = edge_bins(b, b_fine, edges) * size + edge_bins(c, c_fine, edges)
            counts += np.bincount(key, minlength=size * size)
        return [(int(k) // size, int(k) % size, int(counts[k])) for k in np.flatnonzero(counts)]

    def load_frames(self) -> tuple[Any, Any]:
        """`scans.buckets_from`'s frames: per minute its figures, and the latency bins of each arm."""
        import polars as pl

        found, _, sums = self.minutes.result()
        keys, n, _ = self.minute_states.result()
        minute, state = keys >> 32, (keys & 0xFFFFFFFF) - (1 << 31)
        at = np.searchsorted(found, minute)  # every state's minute is among `found`
        flags = {name: np.bincount(at, np.where(state & bit, n, 0), len(found)).astype(np.int64)
                 for name, bit in (("n", 128), ("berr", BERR), ("paired", PAIRED), ("cerr", CERR), ("lr_n", 64))}
        totals = pl.DataFrame({"minute": found, "blb": pl.Series([None] * len(found), dtype=pl.Int64),
                               **flags, "lr_s": sums[0], "lr_ss": sums[1]})
        totals = totals.select("minute", "blb", "n", "berr", "paired", "cerr", "lr_n", "lr_s", "lr_ss")
        frames = []
        for merged, name in ((self.b_lat_bins, "blb"), (self.c_lat_bins, "clb")):
            keys, n, _ = merged.result()
            frames.append(pl.DataFrame({"minute": keys >> 32, name: (keys & 0xFFFFFFFF) - (1 << 31),
                                        "n": n.astype(np.int64)}))
        # the baseline's bins carry no minute figures: the minute's row above has them (its n: the requests
        # without a latency)
        zeros = frames[0].with_columns(*(pl.lit(0, dtype=pl.Int64).alias(c) for c in ("berr", "paired", "cerr",
                                                                                      "lr_n")),
                                       *(pl.lit(0.0).alias(c) for c in ("lr_s", "lr_ss")))
        base = pl.concat([totals, zeros.select(totals.columns)])
        return base, frames[1]

    def confusion(self) -> Any:
        import polars as pl

        if not self.pairs:
            return pl.DataFrame({"baseline": [], "candidate": [], "n": []})
        frame = pl.from_arrow(pa.concat_tables(self.pairs))
        return (frame.rename({"b_pred": "baseline", "c_pred": "candidate", "count_all": "n"})
                .group_by("baseline", "candidate").agg(pl.col("n").sum())
                .sort(["n", "baseline", "candidate"], descending=[True, False, False]))

    def examples(self) -> list[dict[str, Any]]:
        if not self.shown:
            return []
        rows = pa.Table.from_batches(self.shown)
        rows = rows.take(pc.sort_indices(rows, [("dh", "ascending"), ("drid", "ascending")])[:self.limit])
        out = []
        for row in rows.to_pylist():
            shown = {"request_id": row["drid"], "ts": EPOCH + timedelta(microseconds=row["ts_us"]),
                     "baseline": row["b_pred"], "candidate": row["c_pred"]}
            shown.update({f"segment_{i}": row[f"s{i}"] for i in range(len(self.segments))})
            out.append(shown)
        return out


def edge_bins(values: Any, fine: Any, edges: list[float]) -> Any:
    """np.searchsorted(edges, values, "left") (the first edge at or above each value), read from a table
    indexed by the values' fine bins (histograms.bin_sql, computed by DuckDB) wherever no edge can lie
    in the fine bin or its neighbours; the values of those few bins are searched exactly."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    lo, hi = int(fine.min()), int(fine.max())
    span = np.arange(lo, hi + 1)
    step = histograms.SCORE_STEP
    middle = np.copysign(histograms.TINY * step ** np.abs(span).astype(np.float64) * 2.0 / (1.0 + step), span)
    table = np.searchsorted(edges, np.where(span == 0, 0.0, middle), side="left")
    for edge in edges:
        at = 0 if abs(edge) < histograms.TINY else int(math.copysign(
            1 + math.floor(math.log(abs(edge) / histograms.TINY) / math.log(step)), edge))
        for near in (at - 1, at, at + 1):  # Python's log may differ from DuckDB's in the last bit
            if lo <= near <= hi:
                table[near - lo] = -1
    out = table[fine - lo]
    unsure = out < 0
    out[unsure] = np.searchsorted(edges, values[unsure], side="left")
    return out


class Moments:
    """The scored requests' exact figures, merged batch by batch (Chan, Golub & LeVeque's pairwise
    update of means and co-moments): count, mean difference, |difference| extremes, Pearson, the means
    and extremes of both scores."""

    def __init__(self) -> None:
        self.n = 0
        self.mean_b = self.mean_c = self.m2_b = self.m2_c = self.co = self.sum_d = 0.0
        self.extremes: list[float] = []

    def add(self, b: Any, c: Any) -> None:
        n = len(b)
        if not n:
            return
        diff = c - b
        d = np.abs(diff)
        mb, mc = float(b.mean()), float(c.mean())
        db, dc = b - mb, c - mc  # centred: raw products would lose the spread of scores far from 0
        m2b, m2c, co = float(db @ db), float(dc @ dc), float(db @ dc)
        found = [float(d.max()), float(b.min()), float(b.max()), float(c.min()), float(c.max()), float(d.min())]
        total = self.n + n
        delta_b, delta_c = mb - self.mean_b, mc - self.mean_c
        self.m2_b += m2b + delta_b * delta_b * self.n * n / total
        self.m2_c += m2c + delta_c * delta_c * self.n * n / total
        self.co += co + delta_b * delta_c * self.n * n / total
        self.mean_b += delta_b * n / total
        self.mean_c += delta_c * n / total
        self.sum_d += float(diff.sum())
        self.extremes = found if not self.extremes else [
            max(self.extremes[0], found[0]), min(self.extremes[1], found[1]), max(self.extremes[2], found[2]),
            min(self.extremes[3], found[3]), max(self.extremes[4], found[4]), min(self.extremes[5], found[5])]
        self.n = total

    def row(self) -> tuple[Any, ...]:
        """As scans' score statement: count, mean difference, max |d|, Pearson, means, min/max of each, min |d|."""
        if not self.n:
            return (0,) + (None,) * 10
        var = self.m2_b * self.m2_c
        pearson = self.co / math.sqrt(var) if var > 0 else float("nan")
        top, b_lo, b_hi, c_lo, c_hi, least = self.extremes
        return (self.n, self.sum_d / self.n, top, pearson, self.mean_b, self.mean_c, b_lo, b_hi, c_lo, c_hi, least)


def _ratios(n: Any, sums: list[Any], occupied: int) -> dict[str, RatioSums]:
    """The ratios of shadow.compare (the same names and definitions) from one population's requests per
    (group, state), latency sums per group and occupied slots."""
    st = np.arange(STATES)
    paired, agree, late, cerr, berr = ((st & bit) != 0 for bit in (PAIRED, AGREE, LATE, CERR, BERR))

    def count(mask: Any) -> Any:
        return n[:, mask].sum(axis=1)

    every = n.sum(axis=1)
    on_paired = count(paired)
    pairs = {"cover": (on_paired, every), "agree": (count(paired & agree), on_paired),
             "in_time": (count(paired & ~late & ~cerr), every), "late": (count(late), on_paired),
             "cerr": (count(cerr), on_paired), "berr": (count(berr), every),
             "latency": (sums[0], sums[1]), "blat": (sums[2], every - sums[3]),
             "clat": (sums[4], on_paired - sums[5])}
    requests = float(every.sum())
    units = min(linear_count(occupied, GROUPS * SLOTS), int(requests))
    return {name: RatioSums(units, float(x.sum()), float(y.sum()), x.astype(np.float64), y.astype(np.float64))
            for name, (x, y) in pairs.items()}
