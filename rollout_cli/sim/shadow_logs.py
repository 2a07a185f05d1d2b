"""Simulated shadow-stage logs with known truth, for `rollout shadow` (tests, demos, benchmarks).

Contract:
- `simulate_shadow(plan, out_dir, scenario=ShadowScenario(...), seed=...)` writes
  predictions.parquet (the baseline's served answers and the candidate's unserved answers to the
  same request ids), outcomes.parquet (the plan's first outcome event, drawn from the baseline's
  score, so the baseline is calibrated) and training.parquet (the reference of `drift.features`),
  with the plan's column names. Same plan, scenario and seed: same data.
- Traffic has busy and quiet minutes (a rate that swings about fivefold over three hours).
- Knobs, each a known truth `rollout shadow` must find and locate: disagreement confined to one
  segment value, a score shift of known size, a candidate that slows only as load rises, missing
  candidate answers, disagreement on inputs outside the training range; `labels` writes text
  labels instead of scores. With no knob set the candidate agrees (scores within 0.01).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from rollout_cli.errors import UsageError
from rollout_cli.plan.model import Plan
from rollout_cli.sim.logs import DEFAULT_START, SimulatedLogs, _feature, segment_values

LABELS = ("low", "mid", "high")


@dataclass(frozen=True)
class ShadowScenario:
    units: int = 5_000
    requests_per_unit: float = 4.0
    start: Any = DEFAULT_START
    duration_s: float = 6 * 3600.0
    labels: bool = False
    segment_disagreement: tuple[str, str, float] | None = None  # (segment, value, share of its answers flipped)
    score_shift: float = 0.0  # added to every candidate score
    load_slowdown: float = 0.0  # candidate latency x (1 + this) in the busiest minutes, rising with load
    missing: float = 0.0  # share of requests the candidate never answers
    unusual_share: float = 0.03  # requests whose first drift feature lies beyond the training range
    unusual_disagreement: float = 0.0  # share of those the candidate answers differently


SHADOW_SCENARIOS: dict[str, dict[str, Any]] = {
    "shadow-healthy": {},
    "shadow-segment": {"segment_disagreement": ("", "", 0.3)},  # the plan's first segment, its second value
    "shadow-shift": {"score_shift": 0.1},
    "shadow-load": {"load_slowdown": 0.6},
    "shadow-missing": {"missing": 0.2},
    "shadow-unusual": {"unusual_disagreement": 0.5},
    "shadow-labels": {"labels": True},
}


def shadow_scenario(plan: Plan, name: str, **overrides: Any) -> ShadowScenario:
    if name not in SHADOW_SCENARIOS:
        raise UsageError(f"unknown shadow scenario {name!r} (known: {', '.join(SHADOW_SCENARIOS)})")
    values = {**SHADOW_SCENARIOS[name], **{k: v for k, v in overrides.items() if v is not None}}
    found = values.get("segment_disagreement")
    if found is not None and not found[0]:
        if not plan.segments:
            raise UsageError("the shadow-segment scenario needs a plan with segments")
        values["segment_disagreement"] = (plan.segments[0], segment_values(plan.segments[0])[0][1], found[2])
    return ShadowScenario(**values)


def simulate_shadow(plan: Plan, out_dir: Path, *, scenario: ShadowScenario, seed: int) -> SimulatedLogs:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if scenario.units <= 0 or scenario.duration_s <= 0:
        raise UsageError("a simulation needs at least one unit and a positive duration")
    rng = np.random.default_rng(seed)
    cols, n = plan.data.columns, scenario.units
    m = int(n * scenario.requests_per_unit)
    minutes = max(1, int(scenario.duration_s // 60))
    rate = np.exp(0.8 * np.sin(2 * math.pi * np.arange(minutes) / 180.0))  # busy and quiet minutes
    minute = rng.choice(minutes, m, p=rate / rate.sum())
    start_us = int(scenario.start.timestamp() * 1_000_000)
    ts = start_us + minute * 60_000_000 + rng.integers(0, 59_000_000, m)
    order = np.argsort(ts, kind="stable")
    minute, ts = minute[order], ts[order]
    owner = rng.integers(0, n, m)
    load = np.bincount(minute, minlength=minutes)[minute].astype(float)
    busy = np.clip((load - np.median(load)) / max(load.max() - np.median(load), 1.0), 0.0, 1.0)

    score = 1.0 / (1.0 + np.exp(-rng.normal(0.0, 1.5, m)))
    cand = np.clip(score + rng.normal(0.0, 0.01, m) + scenario.score_shift, 0.0, 1.0)
    far = np.where(score < 0.5, np.clip(score + 0.5, 0, 1), np.clip(score - 0.5, 0, 1))  # a clear disagreement
    segments = {}
    for name in plan.segments:
        values, weights = segment_values(name)
        segments[name] = np.array(values, dtype=object)[rng.choice(len(values), n, p=weights)][owner]
    if scenario.segment_disagreement is not None:
        segment, value, share = scenario.segment_disagreement
        if segment not in segments:
            raise UsageError(f"the segment disagreement names {segment!r}, which is not one of the plan's segments")
        flip = (segments[segment] == value) & (rng.random(m) < share)
        cand = np.where(flip, far, cand)
    features: dict[str, Any] = {name: _feature(rng, name, m, 0.0) for name in plan.drift.feature_names
                                if name not in segments}
    if features and scenario.unusual_share > 0:
        first = next(iter(features))
        unusual = rng.random(m) < scenario.unusual_share
        reference_max = float(np.max(_feature(np.random.default_rng(seed + 1), first, 20_000, 0.0)))
        values = features[first].astype(float)
        values[unusual] = reference_max * 3.0 + rng.random(int(unusual.sum()))
        features[first] = values
        cand = np.where(unusual & (rng.random(m) < scenario.unusual_disagreement), far, cand)
    b_lat = np.round(np.exp(rng.normal(math.log(60.0), 0.4, m)), 2)
    c_lat = np.round(np.exp(rng.normal(math.log(60.0), 0.4, m)) * (1.0 + scenario.load_slowdown * busy), 2)
    answered = rng.random(m) >= scenario.missing

    def prediction(values: Any) -> Any:
        if not scenario.labels:
            return values
        return np.array(LABELS, dtype=object)[np.minimum((values * 3).astype(int), 2)]

    rid = np.array([f"r{i}" for i in range(m)], dtype=object)
    unit = np.array([f"u{i}" for i in range(n)], dtype=object)[owner]
    base = {cols["request_id"]: rid, cols["ts"]: ts.astype("datetime64[us]"), cols["unit_id"]: unit,
            cols["arm"]: np.full(m, "baseline", dtype=object), cols["served"]: np.ones(m, dtype=bool),
            cols["prediction"]: prediction(score), cols["latency_ms"]: b_lat, cols["error"]: rng.random(m) < 0.002,
            **segments, **features}
    shadow = {k: v[answered] for k, v in base.items()}
    shadow.update({cols["ts"]: (ts[answered] + 1000).astype("datetime64[us]"),
                   cols["arm"]: np.full(int(answered.sum()), "candidate", dtype=object),
                   cols["served"]: np.zeros(int(answered.sum()), dtype=bool),
                   cols["prediction"]: prediction(cand)[answered], cols["latency_ms"]: c_lat[answered],
                   cols["error"]: rng.random(int(answered.sum())) < 0.002})
    table = pa.concat_tables([pa.table(base), pa.table(shadow)])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pred_path, out_path = out_dir / "predictions.parquet", out_dir / "outcomes.parquet"
    pq.write_table(table, pred_path, row_group_size=1 << 20)
    event = next((mm.event for mm in plan.metrics.values() if mm.kind == "proportion" and mm.event), "click")
    hit = rng.random(m) < score  # the baseline's score is the outcome's probability: calibrated
    outcomes = pa.table({cols["unit_id"]: unit[hit], cols["request_id"]: rid[hit],
                         cols["ts"]: (ts[hit] + 60_000_000).astype("datetime64[us]"),
                         cols["event"]: np.full(int(hit.sum()), event, dtype=object),
                         cols["value"]: np.round(np.exp(rng.normal(3.5, 0.6, int(hit.sum()))), 2)})
    pq.write_table(outcomes, out_path)
    train_path = None
    if plan.drift.features:
        train_path = out_dir / "training.parquet"
        reference = {f: (_feature(np.random.default_rng(seed + 1), f, 20_000, 0.0) if f not in segments
                         else np.array(segment_values(f)[0], dtype=object)[rng.integers(0, 3, 20_000)])
                     for f in plan.drift.feature_names}
        pq.write_table(pa.table(reference), train_path)
    return SimulatedLogs(predictions=pred_path, outcomes=out_path, training=train_path, start=scenario.start,
                         end=scenario.start + timedelta(seconds=scenario.duration_s),
                         units={"baseline": n, "candidate": n},
                         rows={"predictions": table.num_rows, "outcomes": outcomes.num_rows})


def with_units(scenario: ShadowScenario, units: int) -> ShadowScenario:
    return replace(scenario, units=units)
