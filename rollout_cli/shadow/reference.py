"""Unusual inputs and calibration: what the training reference and the outcomes add to the pairs.

Contract:
- `feature_references(logs, features)`: for each numeric `drift.features` column of the training
  reference, its range and its thin bins — of `REFERENCE_BINS` equal-width bins over the range,
  those holding less than `THIN_SHARE` of the reference's rows. Text or missing features are
  skipped with a note (they have no range).
- `unusual_condition(refs, columns, params)`: a SQL condition over the prediction log's feature
  columns that holds when any feature lies outside its reference range or in a thin bin; bounds
  are parameters. `build_pairs` stores it per request.
- `calibration(logs, event, ...)`: when outcomes carry request ids, each paired request's outcome
  (did the event follow it?) against both models' scores, as expected calibration error over ten
  equal-width score bins on [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollout_cli.data.source import Logs, SqlParams
from rollout_cli.shadow.result import Calibration, FeatureReference

REFERENCE_BINS = 20
THIN_SHARE = 0.005  # a bin with under 0.5% of the training rows is "thin": the model saw little there
CALIBRATION_BINS = 10


def feature_references(logs: Logs, features: Sequence[str], notes: list[str]) -> list[tuple[int, FeatureReference,
                                                                                           tuple[int, ...]]]:
    """(position in `features`, reference, thin bin indices) of every usable feature."""
    training = logs.training
    if training is None:
        if features:
            notes.append("unusual inputs: the plan has no data.training reference")
        return []
    out = []
    for i, name in enumerate(features):
        if name not in training.columns or training.type_of("feature", column=name) != "number":
            notes.append(f"unusual inputs: feature '{name}' is not a numeric column of the training reference "
                         f"({training.description}); left out")
            continue
        if logs.predictions.type_of("feature", column=name) != "number":
            notes.append(f"unusual inputs: feature '{name}' is not numeric in the predictions; left out")
            continue
        column = training.column("drift feature", "number", column=name)
        params = SqlParams()
        source = training.from_item(params)
        low, high, rows = logs.query(f"SELECT min({column}), max({column}), count({column}) FROM {source}", params)[0]
        if rows == 0 or low is None:
            notes.append(f"unusual inputs: feature '{name}' has no values in the training reference")
            continue
        low, high = float(low), float(high)
        width = (high - low) / REFERENCE_BINS or 1.0
        params = SqlParams()
        counts = dict(logs.query(
            f"SELECT least(CAST(floor((CAST({column} AS DOUBLE) - {params.add(low)}) / {params.add(width)}) AS INTEGER),"
            f" {REFERENCE_BINS - 1}) AS b, count(*) FROM {training.from_item(params)} WHERE {column} IS NOT NULL "
            "GROUP BY 1", params))
        thin = tuple(b for b in range(REFERENCE_BINS) if counts.get(b, 0) < THIN_SHARE * rows)
        out.append((i, FeatureReference(feature=name, low=low, high=high, thin_bins=len(thin), bins=REFERENCE_BINS),
                    thin))
    return out


def unusual_condition(refs: Sequence[tuple[int, FeatureReference, tuple[int, ...]]], columns: Sequence[str],
                      params: dict[str, Any]) -> str | None:
    """The SQL condition "some feature is out of range or in a thin bin" over the quoted `columns`
    (one per feature, in `features` order); bounds go into `params`."""
    parts = []
    for i, ref, thin in refs:
        f = f"CAST({columns[i]} AS DOUBLE)"
        lo, hi = f"$ulo{i}", f"$uhi{i}"
        params[f"ulo{i}"], params[f"uhi{i}"] = ref.low, ref.high
        condition = f"{f} < {lo} OR {f} > {hi}"
        if thin:
            params[f"uw{i}"] = ((ref.high or 0.0) - (ref.low or 0.0)) / REFERENCE_BINS or 1.0
            params[f"uthin{i}"] = list(thin)
            condition += (f" OR list_contains($uthin{i}, least(CAST(floor(({f} - {lo}) / $uw{i}) AS INTEGER), "
                          f"{REFERENCE_BINS - 1}))")
        parts.append(f"coalesce({condition}, false)")
    return " OR ".join(f"({p})" for p in parts) if parts else None


def calibration(logs: Logs, event: str, *, since: Any, until: Any) -> Calibration | None:
    """Expected calibration error of both models on paired requests whose outcomes name them."""
    outs = logs.outcomes
    if outs is None or any(outs.roles.get(role, role) not in outs.columns for role in ("request_id", "event")):
        return None
    rid, ev, ts = outs.column("request_id", "any"), outs.column("event", "text"), outs.column("ts", "timestamp")
    params = SqlParams()
    source = outs.from_item(params)
    window = f" AND {ts} >= {params.add(since)}" if since is not None else ""
    sql = f"""WITH hit AS (SELECT DISTINCT hash(CAST({rid} AS VARCHAR)) AS rh FROM {source}
                 WHERE {ev} = {params.add(event)} AND {rid} IS NOT NULL{window}),
      scored AS (SELECT p.b_pred, p.c_pred, h.rh IS NOT NULL AS y FROM pairs p
                 LEFT JOIN hit h ON p.rh = h.rh
                 WHERE p.paired AND p.b_pred BETWEEN 0 AND 1 AND p.c_pred BETWEEN 0 AND 1),
      b AS (SELECT least(CAST(floor(b_pred * {CALIBRATION_BINS}) AS INTEGER), {CALIBRATION_BINS - 1}) AS bin,
                   count(*) AS n, avg(b_pred) AS p, avg(CAST(y AS DOUBLE)) AS r FROM scored GROUP BY 1),
      c AS (SELECT least(CAST(floor(c_pred * {CALIBRATION_BINS}) AS INTEGER), {CALIBRATION_BINS - 1}) AS bin,
                   count(*) AS n, avg(c_pred) AS p, avg(CAST(y AS DOUBLE)) AS r FROM scored GROUP BY 1)
SELECT (SELECT count(*) FROM scored), (SELECT avg(CAST(y AS DOUBLE)) FROM scored),
       (SELECT avg(b_pred) FROM scored), (SELECT avg(c_pred) FROM scored),
       (SELECT sum(n * abs(p - r)) / sum(n) FROM b), (SELECT sum(n * abs(p - r)) / sum(n) FROM c)"""
    n, rate, b_mean, c_mean, b_err, c_err = logs.query(sql, params)[0]
    if not n or not rate:
        return None  # no outcome is attributed to these requests: nothing to calibrate against
    return Calibration(event=event, requests=int(n), outcome_rate=rate, baseline_mean=b_mean, candidate_mean=c_mean,
                       baseline_error=b_err, candidate_error=c_err,
                       shift=None if b_err is None or c_err is None else c_err - b_err)
