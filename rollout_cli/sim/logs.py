"""Synthetic serving logs for a plan: predictions, outcomes and a training reference (docs/data.md#simulated-logs).

Contract:
- `simulate_logs(plan, out_dir, scenario=..., seed=...)` writes predictions.parquet,
  outcomes.parquet and training.parquet into `out_dir` for [scenario.start, scenario.start +
  scenario.duration_s) and returns what it wrote. Same plan, scenario and seed: same bytes of data.
- `simulate_stage(...)` appends one stage's worth of rows (files suffixed with `part`) for a
  time range at a given candidate share, so a demo can run a rollout in accelerated time.
- Column names follow the plan's `data.columns` (role -> name), its `segments` and its
  `drift.features`. Knobs (see `Scenario`): overall effect, an effect confined to one segment
  value, sample-ratio mismatch, latency shift, shadow disagreement, stale data, feature drift,
  crossover. Outcomes are purchases (with a value) and clicks, within an hour of an exposure, and
  every other event the plan's metrics count (the knobs move them like purchases); the plan's
  metric columns that are not simulated otherwise are written too (flags true half the time,
  numbers lognormal), so any plan's logs can be evaluated.
- numpy and pyarrow are imported here only, lazily: `plan validate` never pays for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rollout_cli.errors import UsageError
from rollout_cli.plan.model import Plan

if TYPE_CHECKING:
    import numpy as np

DEFAULT_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
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


def segment_values(name: str) -> tuple[list[str], list[float]]:
    """The values a simulated segment column takes, and their shares (plausible for known names)."""
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
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1_000_000)


@dataclass(frozen=True)
class _Units:
    index: Any  # unit numbers (ids are "u" + number)
    is_candidate: Any  # bool per unit: the arm of its first answer
    segments: dict[str, _Text]
    arrival_us: Any  # first request time


@dataclass(frozen=True)
class _Requests:
    owner: Any  # position of the unit in _Units, per request
    later: Any  # bool: not the unit's first request
    ts_us: Any
    candidate: Any  # bool: served by the candidate


def _draw_units(rng: Any, plan: Plan, scenario: Scenario, share: float, first_unit: int, live_us: int,
                start_us: int) -> _Units:
    import numpy as np

    n = scenario.units
    is_cand = rng.random(n) < share
    keep = ~(is_cand & (rng.random(n) < scenario.srm))  # SRM: some candidate units never reach the logs
    is_cand, n = is_cand[keep], int(keep.sum())
    segments = {}
    for name in plan.segments:
        values, weights = segment_values(name)
        segments[name] = _Text(codes=rng.choice(len(values), n, p=weights), values=tuple(values))
    arrival = start_us + (rng.random(n) * live_us * 0.9).astype(np.int64)
    return _Units(np.arange(first_unit, first_unit + scenario.units)[keep], is_cand, segments, arrival)


def _draw_requests(rng: Any, units: _Units, scenario: Scenario, end_us: int) -> _Requests:
    """1 + Poisson(k - 1) requests per unit, minutes apart; those after the range are dropped."""
    import numpy as np

    n = units.index.size
    per_unit = 1 + rng.poisson(max(scenario.requests_per_unit - 1.0, 0.0), n)
    owner = np.repeat(np.arange(n), per_unit)
    firsts = np.cumsum(per_unit) - per_unit
    later = np.arange(owner.size) > np.repeat(firsts, per_unit)
    gaps = rng.exponential(600e6, owner.size).astype(np.int64) * later
    running = np.cumsum(gaps)
    ts_us = units.arrival_us[owner] + running - np.repeat(running[firsts], per_unit)
    in_range = ts_us < end_us - 1000  # 1 ms left for shadow answers
    owner, later, ts_us = owner[in_range], later[in_range], ts_us[in_range]
    candidate = units.is_candidate[owner].copy()
    if scenario.crossover > 0:  # a router that does not keep units in one arm
        flip = (rng.random(n) < scenario.crossover)[owner] & later
        candidate[flip] = ~candidate[flip]
    return _Requests(owner, later, ts_us, candidate)


def _prediction_rows(rng: Any, plan: Plan, scenario: Scenario, units: _Units, requests: _Requests, part: str,
                     shadow_share: float) -> dict[str, Any]:
    """Served answers of both arms, plus the candidate's unserved answers to mirrored requests."""
    import numpy as np

    cols, m, cand = plan.data.columns, requests.owner.size, requests.candidate
    latency = np.exp(rng.normal(math.log(scenario.latency_ms), 0.5, m))
    latency = np.where(cand, latency * (1.0 + scenario.latency_shift), latency)
    error = rng.random(m) < scenario.error_rate
    score = 1.0 / (1.0 + np.exp(-rng.normal(0.0, 1.5, m)))
    cand_score = np.clip(score + rng.normal(0.0, 0.01, m), 0.0, 1.0)
    arms = ("baseline", "candidate")
    rows: dict[str, Any] = {
        cols["request_id"]: _Text(codes=np.arange(m), prefix=f"r{part}-"),
        cols["ts"]: requests.ts_us.astype("datetime64[us]"),
        cols["unit_id"]: _Text(codes=units.index[requests.owner], prefix="u"),
        cols["arm"]: _Text(codes=cand.astype(np.int8), values=arms),
        cols["served"]: np.ones(m, dtype=bool), cols["prediction"]: np.where(cand, cand_score, score),
        cols["latency_ms"]: np.round(latency, 2), cols["error"]: error,
    }
    for name, codes in units.segments.items():
        rows[name] = codes.filter(requests.owner)
    for name in plan.drift.feature_names:
        if name not in rows:  # a feature that is also a segment keeps the segment's values
            rows[name] = _feature(rng, name, m, scenario.drift)
    for name, kind in _plan_columns(plan, rows):  # the plan's own metric columns (approved, ...)
        rows[name] = rng.random(m) < 0.5 if kind == "proportion" else np.round(np.exp(rng.normal(3.0, 0.5, m)), 2)
    mirrored = (~cand) & (rng.random(m) < shadow_share)
    if mirrored.any():
        k = int(mirrored.sum())
        disagree = rng.random(k) < scenario.shadow_disagreement
        shadow = {key: _filter(values, mirrored) for key, values in rows.items()}
        shadow[cols["arm"]] = _Text(codes=np.ones(k, dtype=np.int8), values=arms)
        shadow[cols["served"]] = np.zeros(k, dtype=bool)
        shadow[cols["prediction"]] = np.where(disagree, np.clip(1.0 - score[mirrored], 0, 1), cand_score[mirrored])
        shadow_latency = np.exp(rng.normal(math.log(scenario.latency_ms), 0.5, k)) * (1.0 + scenario.latency_shift)
        shadow[cols["latency_ms"]] = np.round(shadow_latency, 2)
        shadow[cols["ts"]] = (requests.ts_us[mirrored] + 1000).astype("datetime64[us]")
        rows = {key: _concat(rows[key], shadow[key]) for key in rows}
    by_time = np.argsort(rows[cols["ts"]].astype("int64"), kind="stable")  # logs arrive roughly in time order
    return {key: _filter(values, by_time) for key, values in rows.items()}


def _plan_columns(plan: Plan, rows: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, metric kind) of the plan's column metrics that the simulator does not already write."""
    found: dict[str, str] = {}
    for metric in plan.metrics.values():
        if metric.column is not None and metric.column not in rows:
            found.setdefault(metric.column, metric.kind)
    return list(found.items())


def _events(plan: Plan) -> list[str]:
    """The outcome events to simulate: purchases and clicks, then every other event the plan counts."""
    named = [m.event for m in plan.metrics.values() if m.event is not None]
    return [e for e in dict.fromkeys(named) if e not in ("purchase", "click")]


def _outcome_rows(rng: Any, plan: Plan, scenario: Scenario, units: _Units, requests: _Requests, part: str,
                  end_us: int) -> dict[str, Any]:
    """Maybe a purchase ~15 minutes after a unit arrives (the knobs move its chance), clicks a minute
    after served answers; nothing after the end of the range has happened yet."""
    import numpy as np

    p_buy = np.full(units.index.size, scenario.conversion)
    p_buy = np.where(units.is_candidate, p_buy * (1.0 + scenario.effect), p_buy)
    if scenario.segment_effect is not None:
        segment, value, change = scenario.segment_effect
        if segment not in units.segments:
            raise UsageError(f"the segment effect names {segment!r}, which is not one of the plan's segments")
        known, _ = segment_values(segment)
        if value not in known:
            raise UsageError(f"the segment effect names {segment}={value!r}; simulated values are {', '.join(known)}")
        in_value = units.segments[segment].codes == known.index(value)
        p_buy = np.where(units.is_candidate & in_value, p_buy * (1.0 + change), p_buy)
    buys = rng.random(units.index.size) < np.clip(p_buy, 0.0, 1.0)
    n_buys = int(buys.sum())
    buy_ts = units.arrival_us[buys] + rng.exponential(15 * 60e6, n_buys).astype(np.int64)
    clicks = rng.random(requests.owner.size) < scenario.click_rate
    n_clicks = int(clicks.sum())
    ts = np.concatenate([buy_ts, requests.ts_us[clicks] + rng.exponential(60e6, n_clicks).astype(np.int64)])
    unit = np.concatenate([units.index[buys], units.index[requests.owner][clicks]])
    request = np.concatenate([np.full(n_buys, -1), np.arange(requests.owner.size)[clicks]])  # -1: not known
    event = np.concatenate([np.zeros(n_buys, dtype=np.int8), np.ones(n_clicks, dtype=np.int8)])
    amount = np.concatenate([np.round(np.exp(rng.normal(3.5, 0.6, n_buys)), 2), np.full(n_clicks, np.nan)])
    extra = _events(plan)  # drawn after purchases and clicks: a plan without them gets the same logs as before
    for code, name in enumerate(extra, start=2):
        hits = rng.random(units.index.size) < np.clip(p_buy, 0.0, 1.0)  # the knobs move every event alike
        k = int(hits.sum())
        ts = np.concatenate([ts, units.arrival_us[hits] + rng.exponential(15 * 60e6, k).astype(np.int64)])
        unit = np.concatenate([unit, units.index[hits]])
        request = np.concatenate([request, np.full(k, -1)])
        event = np.concatenate([event, np.full(k, code, dtype=np.int8)])
        amount = np.concatenate([amount, np.round(np.exp(rng.normal(1.0, 0.4, k)), 2)])
    happened = np.flatnonzero(ts < end_us)
    order = happened[np.argsort(ts[happened], kind="stable")]
    cols = plan.data.columns
    return {cols["unit_id"]: _Text(codes=unit[order], prefix="u"),
            cols["request_id"]: _request_ids(request[order], part),
            cols["ts"]: ts[order].astype("datetime64[us]"),
            cols["event"]: _Text(codes=event[order], values=("purchase", "click", *extra)),
            cols["value"]: _nullable(amount[order])}


def simulate_stage(plan: Plan, out_dir: Path, *, scenario: Scenario, seed: int, part: str = "",
                   first_unit: int = 0, training: bool = True) -> SimulatedLogs:
    """Write one time range's logs (files `predictions{part}.parquet`, ...) and say what was written."""
    import numpy as np

    if scenario.units <= 0 or scenario.duration_s <= 0:
        raise UsageError("a simulation needs at least one unit and a positive duration")
    rng = np.random.default_rng(seed)
    cand_share, shadow_share = _shares(plan, scenario)
    start_us = _naive_us(scenario.start)
    live_us = max(1, int((scenario.duration_s - scenario.stale_s) * 1e6))  # stale: the last rows are missing
    units = _draw_units(rng, plan, scenario, cand_share, first_unit, live_us, start_us)
    requests = _draw_requests(rng, units, scenario, start_us + live_us)
    predictions = _prediction_rows(rng, plan, scenario, units, requests, part, shadow_share)
    outcomes = _outcome_rows(rng, plan, scenario, units, requests, part, start_us + live_us)

    out_dir = Path(out_dir)
    pred_path, out_path = out_dir / f"predictions{part}.parquet", out_dir / f"outcomes{part}.parquet"
    written = {"predictions": _write(predictions, pred_path), "outcomes": _write(outcomes, out_path)}
    train_path = None
    if training and plan.drift.features:
        size = min(50_000, max(1_000, requests.owner.size))
        train_path = out_dir / "training.parquet"
        written["training"] = _write({f: _reference(rng, plan, f, size) for f in plan.drift.feature_names}, train_path)
    candidates = int(units.is_candidate.sum())
    return SimulatedLogs(
        predictions=pred_path, outcomes=out_path, training=train_path, start=scenario.start,
        end=scenario.start + timedelta(seconds=scenario.duration_s),
        units={"baseline": int(units.index.size) - candidates, "candidate": candidates}, rows=written)


def _reference(rng: Any, plan: Plan, name: str, size: int) -> Any:
    """A training column: a segment's values when the feature is a segment, else the undrifted feature."""
    if name in plan.segments:
        values, weights = segment_values(name)
        return _Text(codes=rng.choice(len(values), size, p=weights), values=tuple(values))
    return _feature(rng, name, size, 0.0)


def _nullable(values: Any) -> Any:
    import pyarrow as pa

    return pa.array(values, from_pandas=True)  # NaN -> null


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
