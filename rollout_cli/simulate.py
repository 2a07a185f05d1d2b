"""Synthetic serving logs for a plan: predictions, outcomes and a training reference (SPEC §3).

Contract:
- `simulate_logs(plan, out_dir, scenario=..., seed=...)` writes predictions.parquet,
  outcomes.parquet and training.parquet into `out_dir` for [scenario.start, scenario.start +
  scenario.duration_s) and returns what it wrote. Same plan, scenario and seed: same bytes of data.
- `simulate_stage(...)` appends one stage's worth of rows (files suffixed with `part`) for a
  time range at a given candidate share, so a demo can run a rollout in accelerated time.
- Column names follow the plan's `data.columns` (role -> name), its `segments` and its
  `drift.features`. Knobs (see `Scenario`): overall effect, an effect confined to one segment
  value, sample-ratio mismatch, latency shift, shadow disagreement, stale data, feature drift,
  crossover. Outcomes are purchases (with a value) and clicks, within an hour of an exposure.
- numpy and pyarrow are imported here only, lazily: `plan validate` never pays for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rollout_cli.errors import UsageError
from rollout_cli.plan.model import Plan

if TYPE_CHECKING:
    import numpy as np

DEFAULT_START = datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc)
_KNOWN_SEGMENTS: dict[str, tuple[list[str], list[float]]] = {
    "country": (["US", "DE", "GB", "FR", "IN", "BR"], [0.40, 0.15, 0.12, 0.10, 0.13, 0.10]),
    "platform": (["android", "ios", "web"], [0.45, 0.20, 0.35]),
    "device": (["mobile", "desktop", "tablet"], [0.6, 0.3, 0.1]),
}
_OTHER_SEGMENT = (["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1])


@dataclass(frozen=True)
class Scenario:
    """What to simulate. Shares are fractions (0.05 = 5%) unless named *_pct."""

    units: int = 20_000
    start: datetime = DEFAULT_START
    duration_s: float = 6 * 3600.0
    candidate_pct: float | None = None  # percent of units served by the candidate (default: the stage's)
    shadow_pct: float | None = None  # percent of requests mirrored to the candidate (default: the stage's)
    stage: str | None = None  # the stage whose shares are the default (default: the first traffic stage)
    requests_per_unit: float = 2.0
    conversion: float = 0.08  # baseline chance that a unit buys within the window
    click_rate: float = 0.3  # chance that a served answer gets a click
    error_rate: float = 0.002
    latency_ms: float = 60.0  # median; lognormal with sigma 0.5 (p99 about 190 ms)
    effect: float = 0.0  # relative change of the candidate's conversion (-0.2 = 20% fewer buyers)
    segment_effect: tuple[str, str, float] | None = None  # (segment, value, relative change) for that value only
    srm: float = 0.0  # share of candidate units lost from the logs (a router/logging bug)
    latency_shift: float = 0.0  # relative change of the candidate's latency
    shadow_disagreement: float = 0.0  # share of shadow answers far from the baseline's
    stale_s: float = 0.0  # no rows in the last stale_s seconds of the range
    drift: float = 0.0  # shift of the serving features, in reference standard deviations
    crossover: float = 0.0  # share of units whose later requests go to the other arm


SCENARIOS: dict[str, dict[str, Any]] = {
    "healthy": {},
    "harm": {"effect": -0.2},
    "segment-harm": {"segment_effect": ("platform", "ios", -0.4)},
    "srm": {"srm": 0.2},
    "slow": {"latency_shift": 0.5},
    "shadow-disagree": {"shadow_disagreement": 0.3},
    "stale": {"stale_s": 3 * 3600.0},
    "drift": {"drift": 1.0},
    "crossover": {"crossover": 0.1},
}


def scenario_named(name: str, **overrides: Any) -> Scenario:
    if name not in SCENARIOS:
        raise UsageError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    values = {**SCENARIOS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return Scenario(**values)


@dataclass(frozen=True)
class SimulatedLogs:
    predictions: Path
    outcomes: Path
    training: Path | None
    start: datetime
    end: datetime
    units: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _shares(plan: Plan, scenario: Scenario) -> tuple[float, float]:
    if scenario.stage is not None:
        try:
            stage = plan.stage(scenario.stage)
        except KeyError as error:
            raise UsageError(str(error.args[0])) from None
    else:
        stage = next((s for s in plan.stages if not s.is_shadow), plan.stages[0])
    candidate = stage.traffic if scenario.candidate_pct is None else scenario.candidate_pct
    shadow = stage.shadow if scenario.shadow_pct is None else scenario.shadow_pct
    return candidate / 100.0, shadow / 100.0


def _segment_values(name: str) -> tuple[list[str], list[float]]:
    return _KNOWN_SEGMENTS.get(name, _OTHER_SEGMENT)


def _feature(rng: np.random.Generator, name: str, size: int, shift: float) -> np.ndarray:
    """Plausible reference distributions; `shift` moves them by that many standard deviations."""
    import numpy as np

    if name == "price":
        return np.round(np.exp(rng.normal(3.0 + 0.8 * shift, 0.8, size)), 2)
    if name == "query_length":
        return rng.poisson(4.0 + 2.0 * shift, size).astype(np.int64) if shift >= -1.5 else rng.poisson(1.0, size)
    if name == "user_age_days":
        return np.round(rng.exponential(300.0, size) * (1.0 + 0.5 * shift), 1)
    return rng.normal(shift, 1.0, size)


@dataclass(frozen=True)
class _Text:
    """A text column kept compact until written: ids as prefix + integer, categories as codes."""

    codes: Any  # numpy int array
    prefix: str | None = None  # ids: prefix + str(code)
    values: tuple[Any, ...] = ()  # categories: values[code]; None values are nulls

    def filter(self, mask: Any) -> _Text:
        return replace(self, codes=self.codes[mask])

    def concat(self, other: _Text) -> _Text:
        import numpy as np

        return replace(self, codes=np.concatenate([self.codes, other.codes]))

    def arrow(self) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.prefix is not None:
            return pc.binary_join_element_wise(self.prefix, pc.cast(pa.array(self.codes), pa.string()), "")
        dictionary = pa.DictionaryArray.from_arrays(pa.array(self.codes, type=pa.int32()), pa.array(self.values))
        return dictionary.cast(pa.string())


def _filter(column: Any, mask: Any) -> Any:
    return column.filter(mask) if isinstance(column, _Text) else column[mask]


def _concat(a: Any, b: Any) -> Any:
    import numpy as np

    return a.concat(b) if isinstance(a, _Text) else np.concatenate([a, b])


def _write(table: dict[str, Any], path: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.table({k: v.arrow() if isinstance(v, _Text) else v for k, v in table.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(arrow, path, row_group_size=1 << 20)
    return int(arrow.num_rows)


def _naive_us(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return int(aware.timestamp() * 1_000_000)


def simulate_stage(plan: Plan, out_dir: Path, *, scenario: Scenario, seed: int, part: str = "",
                   first_unit: int = 0, training: bool = True) -> SimulatedLogs:
    """Write one time range's logs (files `predictions{part}.parquet`, ...) and say what was written."""
    import numpy as np

    if scenario.units <= 0 or scenario.duration_s <= 0:
        raise UsageError("a simulation needs at least one unit and a positive duration")
    rng = np.random.default_rng(seed)
    cols = plan.data.columns
    cand_share, shadow_share = _shares(plan, scenario)
    n = scenario.units
    start_us = _naive_us(scenario.start)
    span_us = int(scenario.duration_s * 1e6)
    live_us = max(1, int((scenario.duration_s - scenario.stale_s) * 1e6))

    # units: arm, segment values, arrival
    is_cand = rng.random(n) < cand_share
    keep = ~(is_cand & (rng.random(n) < scenario.srm))  # SRM: some candidate units never reach the logs
    unit_index = np.arange(first_unit, first_unit + n)[keep]
    is_cand = is_cand[keep]
    n = int(keep.sum())
    segs: dict[str, _Text] = {}
    for name in plan.segments:
        values, weights = _segment_values(name)
        segs[name] = _Text(codes=rng.choice(len(values), n, p=weights), values=tuple(values))
    arrival = start_us + (rng.random(n) * live_us * 0.9).astype(np.int64)

    # requests: 1 + Poisson(k - 1) per unit, minutes apart
    per_unit = 1 + rng.poisson(max(scenario.requests_per_unit - 1.0, 0.0), n)
    owner = np.repeat(np.arange(n), per_unit)
    m = owner.size
    order_in_unit = np.arange(m) - np.repeat(np.cumsum(per_unit) - per_unit, per_unit)
    gaps = rng.exponential(600e6, m).astype(np.int64) * (order_in_unit > 0)
    running = np.cumsum(gaps)
    offsets = running - np.repeat(running[np.cumsum(per_unit) - per_unit], per_unit)
    ts_us = np.minimum(arrival[owner] + offsets, start_us + live_us - 1)
    req_cand = is_cand[owner].copy()
    if scenario.crossover > 0:
        crossed_units = rng.random(n) < scenario.crossover
        flip = crossed_units[owner] & (order_in_unit > 0)
        req_cand[flip] = ~req_cand[flip]

    latency = np.exp(rng.normal(math.log(scenario.latency_ms), 0.5, m))
    latency = np.where(req_cand, latency * (1.0 + scenario.latency_shift), latency)
    error = rng.random(m) < scenario.error_rate
    score = 1.0 / (1.0 + np.exp(-rng.normal(0.0, 1.5, m)))
    cand_score = np.clip(score + rng.normal(0.0, 0.01, m), 0.0, 1.0)
    request_ids = _Text(codes=np.arange(m), prefix=f"r{part}-")
    unit_codes = unit_index[owner]
    arms = ("baseline", "candidate")

    served_rows: dict[str, Any] = {
        cols["request_id"]: request_ids, cols["ts"]: ts_us.astype("datetime64[us]"),
        cols["unit_id"]: _Text(codes=unit_codes, prefix="u"), cols["arm"]: _Text(codes=req_cand.astype(np.int8), values=arms),
        cols["served"]: np.ones(m, dtype=bool), cols["prediction"]: np.where(req_cand, cand_score, score),
        cols["latency_ms"]: np.round(latency, 2), cols["error"]: error,
    }
    for name, values in segs.items():
        served_rows[name] = values.filter(owner)
    for name in plan.drift.features:
        served_rows[name] = _feature(rng, name, m, scenario.drift)

    # shadow answers: the candidate answers a share of the baseline's requests, unserved
    mirrored = (~req_cand) & (rng.random(m) < shadow_share)
    if mirrored.any():
        k = int(mirrored.sum())
        disagree = rng.random(k) < scenario.shadow_disagreement
        shadow_pred = np.where(disagree, np.clip(1.0 - score[mirrored], 0, 1), cand_score[mirrored])
        shadow_latency = np.exp(rng.normal(math.log(scenario.latency_ms), 0.5, k)) * (1.0 + scenario.latency_shift)
        shadow_rows = {key: _filter(values, mirrored) for key, values in served_rows.items()}
        shadow_rows[cols["arm"]] = _Text(codes=np.ones(k, dtype=np.int8), values=arms)
        shadow_rows[cols["served"]] = np.zeros(k, dtype=bool)
        shadow_rows[cols["prediction"]] = shadow_pred
        shadow_rows[cols["latency_ms"]] = np.round(shadow_latency, 2)
        shadow_rows[cols["ts"]] = (ts_us[mirrored] + 1000).astype("datetime64[us]")
        rows = {key: _concat(served_rows[key], shadow_rows[key]) for key in served_rows}
    else:
        rows = served_rows

    # outcomes: a purchase within the hour after the first exposure, clicks after served answers
    unit_cand = is_cand
    p_buy = np.full(n, scenario.conversion)
    p_buy = np.where(unit_cand, p_buy * (1.0 + scenario.effect), p_buy)
    if scenario.segment_effect is not None:
        segment, value, change = scenario.segment_effect
        if segment not in segs:
            raise UsageError(f"the segment effect names {segment!r}, which is not one of the plan's segments")
        known, _ = _segment_values(segment)
        if value not in known:
            raise UsageError(f"the segment effect names {segment}={value!r}; simulated values are {', '.join(known)}")
        in_value = segs[segment].codes == known.index(value)
        p_buy = np.where(unit_cand & in_value, p_buy * (1.0 + change), p_buy)
    buys = rng.random(n) < np.clip(p_buy, 0.0, 1.0)
    buy_ts = arrival[buys] + rng.exponential(15 * 60e6, int(buys.sum())).astype(np.int64)
    clicks = rng.random(m) < scenario.click_rate
    click_ts = ts_us[clicks] + rng.exponential(60e6, int(clicks.sum())).astype(np.int64)
    end_us = start_us + live_us
    n_buys, n_clicks = int(buys.sum()), int(clicks.sum())
    o_unit = np.concatenate([unit_index[buys], unit_codes[clicks]])
    o_ts = np.concatenate([buy_ts, click_ts])
    o_req = np.concatenate([np.full(n_buys, -1), np.arange(m)[clicks]])  # purchases: no request known
    o_event = np.concatenate([np.zeros(n_buys, dtype=np.int8), np.ones(n_clicks, dtype=np.int8)])
    o_value = np.concatenate([np.round(np.exp(rng.normal(3.5, 0.6, n_buys)), 2), np.full(n_clicks, np.nan)])
    happened = o_ts < end_us  # nothing after the end of the range has happened yet
    order = np.argsort(o_ts[happened], kind="stable")
    req = o_req[happened][order]
    outcomes = {cols["unit_id"]: _Text(codes=o_unit[happened][order], prefix="u"),
                cols["request_id"]: _request_ids(req, part),
                cols["ts"]: o_ts[happened][order].astype("datetime64[us]"),
                cols["event"]: _Text(codes=o_event[happened][order], values=("purchase", "click")),
                cols["value"]: _nullable(o_value[happened][order])}

    by_time = np.argsort(_concat_ts(rows[cols["ts"]]), kind="stable")  # logs arrive roughly in time order
    rows = {key: _filter(values, by_time) for key, values in rows.items()}

    out_dir = Path(out_dir)
    pred_path, out_path = out_dir / f"predictions{part}.parquet", out_dir / f"outcomes{part}.parquet"
    written = {"predictions": _write(rows, pred_path), "outcomes": _write(outcomes, out_path)}
    train_path = None
    if training and plan.drift.features:
        size = min(50_000, max(1_000, m))
        train_path = out_dir / "training.parquet"
        written["training"] = _write({f: _feature(rng, f, size, 0.0) for f in plan.drift.features}, train_path)
    return SimulatedLogs(
        predictions=pred_path, outcomes=out_path, training=train_path, start=scenario.start,
        end=scenario.start + timedelta(seconds=scenario.duration_s),
        units={"baseline": int((~is_cand).sum()), "candidate": int(is_cand.sum())}, rows=written)


def _nullable(values: Any) -> Any:
    import pyarrow as pa

    return pa.array(values, from_pandas=True)  # NaN -> null


def _concat_ts(values: Any) -> Any:
    return values.astype("int64")


def _request_ids(codes: Any, part: str) -> Any:
    """Request ids of outcomes; -1 (not known) becomes null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = _Text(codes=codes, prefix=f"r{part}-").arrow()
    return pc.if_else(pa.array(codes >= 0), ids, pa.scalar(None, pa.string()))


def simulate_logs(plan: Plan, out_dir: Path, *, scenario: Scenario, seed: int) -> SimulatedLogs:
    """The whole range in one set of files: predictions.parquet, outcomes.parquet, training.parquet."""
    return simulate_stage(plan, out_dir, scenario=scenario, seed=seed, part="")


def with_window(scenario: Scenario, start: datetime, end: datetime, candidate_pct: float,
                shadow_pct: float = 0.0) -> Scenario:
    """The scenario moved to [start, end) at the given shares (for stage-by-stage simulation)."""
    return replace(scenario, start=start, duration_s=(end - start).total_seconds(), candidate_pct=candidate_pct,
                   shadow_pct=shadow_pct)
