"""The typed, immutable plan every command works from.

Frozen dataclasses (built by `plan/build.py` from a schema-valid document) with durations,
shares, team references and metric references resolved once. Each part keeps its source location so
later errors (a guard's metric missing from the logs, say) can point into the YAML.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rollout_cli.plan.load import Location
from rollout_cli.routers.base import RouterSplit

MetricKind = Literal["proportion", "mean", "quantile", "agreement", "coverage", "score_shift"]
StepKind = Literal["route", "verify", "run", "notify"]

# The column roles of docs/data.md; `data.columns` maps them to the user's column names.
PREDICTION_ROLES = ("request_id", "ts", "unit_id", "arm", "served", "prediction", "latency_ms", "error")
OUTCOME_ROLES = ("unit_id", "request_id", "ts", "event", "value")
ROLES = tuple(dict.fromkeys(PREDICTION_ROLES + OUTCOME_ROLES))

DEFAULT_FRESHNESS_S = 15 * 60
DEFAULT_SETTLING_S = 60.0
DEFAULT_MIN_UNITS_PER_CHECK = 100
DEFAULT_MAX_CROSSOVER = 0.01
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class DataSource:
    """A file glob (parquet, csv, json/jsonl) or a table in a DuckDB database file."""

    glob: str | None = None
    database: str | None = None
    table: str | None = None
    catalog_table: str | None = None  # a Spark catalog table (`catalog.schema.table`, docs/spark.md)

    @property
    def is_table(self) -> bool:
        return self.database is not None

    def describe(self) -> str:
        if self.catalog_table is not None:
            return f"table {self.catalog_table}"
        return f"{self.database}:{self.table}" if self.is_table else str(self.glob)


@dataclass(frozen=True)
class SparkSpec:
    """`data.spark` (docs/spark.md): where Spark runs, its configuration, the catalog tables read.
    Values may hold `${env:…}` references: they are resolved only when Spark is started."""

    connect: str | None = None  # a Spark Connect endpoint, sc://host:15002
    master: str | None = None  # or a master for a session started here (local[2], yarn, spark://…)
    conf: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSpec:
    predictions: DataSource
    outcomes: DataSource | None
    training: DataSource | None
    columns: Mapping[str, str]  # role -> the user's column name; every role present
    engine: Literal["duckdb", "spark"] = "duckdb"  # where the metric queries run (docs/spark.md)
    spark: SparkSpec | None = None

    def column(self, role: str) -> str:
        return self.columns[role]


@dataclass(frozen=True)
class PrometheusCounts:
    """`source: prometheus` (docs/data.md): per arm, a PromQL query for the events counted and one
    for all requests; `$window` is the judged window. url and token as written (${env:…})."""

    url: str
    count: tuple[str, str]  # (baseline's query, candidate's query): tuples keep the plan hashable
    total: tuple[str, str]
    token: str | None = None

    def queries(self, arm: str) -> tuple[str, str]:
        """(count, total) of `arm` ("baseline" or "candidate")."""
        i = ("baseline", "candidate").index(arm)
        return self.count[i], self.total[i]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: MetricKind
    event: str | None = None  # outcome event counted (proportion: any; mean: sum of values)
    column: str | None = None  # a prediction-log column (proportion of true, mean, quantile)
    window_s: float | None = None  # outcomes count within this time after an exposure
    q: float | None = None  # quantile level
    tolerance: float | None = None  # agreement: |candidate - baseline| <= tolerance agrees
    cap: float | None = None  # mean: each unit's value is capped at this before averaging
    timeout_s: float | None = None  # coverage: a candidate answer slower than this is late (docs/shadow.md)
    prometheus: PrometheusCounts | None = None  # source: prometheus — counted there, not in the logs
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Guard:
    """A limit on one metric. Relative limits are fractions (0.02 = 2%); absolute in the metric's unit."""

    metric: Metric
    max_drop: float | None = None
    max_increase: float | None = None
    min: float | None = None
    max: float | None = None
    per_segment: bool = False
    location: Location | None = field(default=None, compare=False)

    @property
    def is_relative(self) -> bool:
        return self.max_drop is not None or self.max_increase is not None


@dataclass(frozen=True)
class Stage:
    name: str
    index: int
    traffic: float  # percent of requests served by the candidate
    shadow: float  # percent of requests mirrored to the candidate
    min_duration_s: float
    min_units: int
    approval_required: bool
    guards: tuple[Guard, ...]  # the stage's own guards, else the plan's
    final: bool = False
    location: Location | None = field(default=None, compare=False)
    max_duration_s: float | None = None  # the stage's own limit, else decision.max_duration

    def time_limit(self, decision: Decision) -> float | None:
        """How long the stage may stay without a verdict: its own max_duration, else the plan's."""
        return self.max_duration_s if self.max_duration_s is not None else decision.max_duration_s

    @property
    def is_shadow(self) -> bool:
        """A shadow stage serves nothing from the candidate."""
        return self.traffic == 0

    @property
    def split(self) -> RouterSplit:
        """The split this stage asks the router for."""
        return RouterSplit(candidate_traffic=float(self.traffic), shadow=float(self.shadow))


@dataclass(frozen=True)
class Decision:
    confidence: float = DEFAULT_CONFIDENCE
    max_duration_s: float | None = None
    on_inconclusive: Literal["hold", "rollback"] = "hold"
    auto_advance: bool = True
    auto_rollback: bool = True
    freshness_s: float = DEFAULT_FRESHNESS_S  # no rows this recent -> inconclusive
    min_units_per_check: int = DEFAULT_MIN_UNITS_PER_CHECK  # per arm, per check
    max_crossover: float = DEFAULT_MAX_CROSSOVER  # share of units seen in both arms tolerated
    settling_s: float = DEFAULT_SETTLING_S  # a new split is judged from this long after it was verified


DriftAction = Literal["alert", "hold", "run"]


@dataclass(frozen=True)
class DriftFeature:
    name: str
    kind: Literal["numeric", "categorical"] | None = None  # None: inferred from the reference's type
    max_psi: float | None = None  # None: drift.max_psi


@dataclass(frozen=True)
class Drift:
    """The `drift` section (docs/plan.md). `reference_first_s` None means data.training."""

    features: tuple[DriftFeature, ...] = ()
    max_psi: float = 0.2
    outputs: bool = False
    reference_first_s: float | None = None  # the baseline's first this-many seconds of the predictions
    window_s: float = 3600.0
    action: DriftAction = "alert"
    run: tuple[str, ...] = ()  # the command of action "run"
    monitor_for_s: float | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def enabled(self) -> bool:
        return bool(self.features) or self.outputs

    def threshold(self, feature: DriftFeature) -> float:
        return feature.max_psi if feature.max_psi is not None else self.max_psi


NOTIFY_EVENTS = ("rollback_started", "rollback_finished", "rollback_failed", "stage_advanced", "held_too_long",
                 "approval_needed", "drill_failed", "drift_confirmed", "controller_error")
DEFAULT_HELD_LONGER_THAN_S = 86400.0


@dataclass(frozen=True)
class NotifyTarget:
    """A webhook of the plan's `notify:` section; url and token are ${env:…} references."""

    url: str
    token: str | None = None
    format: str = "json"  # "json" | "slack"
    events: tuple[str, ...] = NOTIFY_EVENTS
    held_longer_than_s: float = DEFAULT_HELD_LONGER_THAN_S


@dataclass(frozen=True)
class RollbackStep:
    kind: StepKind
    value: Any  # "baseline" | "router" | argv list | webhook reference
    timeout_s: float | None = None
    location: Location | None = field(default=None, compare=False)

    def describe(self) -> str:
        if self.kind == "run":
            return "run " + " ".join(str(a) for a in self.value)
        return f"{self.kind} {self.value}"


@dataclass(frozen=True)
class Rollback:
    authority: tuple[str, ...]  # as written: people and team:NAME references
    approvers: tuple[str, ...]
    authorized_people: frozenset[str]  # authority with teams resolved
    approver_people: frozenset[str]
    max_duration_s: float
    require_drill_s: float | None
    steps: tuple[RollbackStep, ...]
    user_impact: str
    contacts: tuple[str, ...]
    digest: str  # hash of the rollback section as written; drills on record must match it


@dataclass(frozen=True)
class Router:
    adapter: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class Plan:
    name: str
    version: int
    description: str
    owner: str
    baseline: str
    candidate: str
    router: Router
    data: DataSpec
    segments: tuple[str, ...]
    metrics: Mapping[str, Metric]
    guards: tuple[Guard, ...]  # defaults for traffic stages
    stages: tuple[Stage, ...]
    decision: Decision
    drift: Drift
    teams: Mapping[str, tuple[str, ...]]
    rollback: Rollback
    source: str  # the file it was loaded from
    state_dir: str | None = None  # `state: {dir}` as written; see state/location.py
    traffic_estimate: float | None = None  # expected units per hour (docs/statistics.md, tuning)
    notify: tuple[NotifyTarget, ...] = ()

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        known = ", ".join(s.name for s in self.stages)
        raise KeyError(f"plan {self.name!r} has no stage {name!r} (stages: {known})")

    def next_stage(self, stage: Stage) -> Stage | None:
        return self.stages[stage.index + 1] if stage.index + 1 < len(self.stages) else None


def digest(value: Any) -> str:
    """A stable short hash of plain data."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
