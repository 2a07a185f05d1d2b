"""The typed, immutable plan every command works from.

`build_plan` turns a schema-valid document into frozen dataclasses with durations, shares,
team references and metric references resolved once. Each part keeps its source location so
later errors (a guard's metric missing from the logs, say) can point into the YAML.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from rollout_cli.plan.load import LoadedDocument, Location
from rollout_cli.routers.base import RouterSplit
from rollout_cli.units import parse_duration, parse_fraction, parse_rate, parse_share, parse_threshold

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

    @property
    def is_table(self) -> bool:
        return self.database is not None

    def describe(self) -> str:
        return f"{self.database}:{self.table}" if self.is_table else str(self.glob)


@dataclass(frozen=True)
class DataSpec:
    predictions: DataSource
    outcomes: DataSource | None
    training: DataSource | None
    columns: Mapping[str, str]  # role -> the user's column name; every role present

    def column(self, role: str) -> str:
        return self.columns[role]


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


def _source(value: Any) -> DataSource | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return DataSource(database=str(value["database"]), table=str(value["table"]))
    return DataSource(glob=str(value))


def _required_source(value: Any) -> DataSource:
    source = _source(value)
    if source is None:  # the schema requires data.predictions; a loaded plan always has it
        raise ValueError("data.predictions is required")
    return source


def resolve_people(entries: list[str], teams: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
    """People named by `entries`, with `team:NAME` expanded (unknown teams resolve to nobody)."""
    people: set[str] = set()
    for entry in entries:
        if entry.startswith("team:"):
            people.update(teams.get(entry[len("team:"):], ()))
        else:
            people.add(entry)
    return frozenset(people)


def build_plan(doc: LoadedDocument) -> Plan:
    """The typed plan of a document that passed validation (raises ValueError/KeyError otherwise)."""
    d, loc = doc.data, doc.locate
    metrics = _metrics(d.get("metrics") or {}, loc)
    default_guards = _guards(d.get("guards") or [], "$.guards", metrics, loc)
    teams = {name: tuple(members) for name, members in (d.get("teams") or {}).items()}
    return Plan(
        name=d["name"],
        version=int(d["version"]),
        description=str(d.get("description", "")),
        owner=str(d.get("owner", "")),
        baseline=d["models"]["baseline"],
        candidate=d["models"]["candidate"],
        router=Router(adapter=d["router"]["adapter"], options=MappingProxyType(dict(d["router"].get("options") or {}))),
        data=_data(d["data"]),
        segments=tuple(d.get("segments") or ()),
        traffic_estimate=parse_rate(d["traffic_estimate"]) if "traffic_estimate" in d else None,
        metrics=MappingProxyType(metrics),
        guards=default_guards,
        stages=_stages(d["stages"], default_guards, metrics, loc),
        decision=_decision(d.get("decision") or {}),
        drift=_drift(d.get("drift") or {}),
        teams=MappingProxyType(teams),
        rollback=_rollback(d["rollback"], teams, loc),
        source=doc.file,
        state_dir=(d.get("state") or {}).get("dir"),
        notify=_notify(d.get("notify") or []),
    )


def _notify(items: list[dict[str, Any]]) -> tuple[NotifyTarget, ...]:
    return tuple(
        NotifyTarget(url=n["url"], token=n.get("token"), format=n.get("format", "json"),
                     events=tuple(n.get("events") or NOTIFY_EVENTS),
                     held_longer_than_s=parse_duration(n.get("held_longer_than", DEFAULT_HELD_LONGER_THAN_S)))
        for n in items
    )


Locate = Callable[[str], Location]  # LoadedDocument.locate: the source location of a JSON path


def _metrics(items: dict[str, Any], loc: Locate) -> dict[str, Metric]:
    return {
        name: Metric(
            name=name,
            kind=m["kind"],
            event=m.get("event"),
            column=m.get("column"),
            window_s=parse_duration(m["window"]) if "window" in m else None,
            q=float(m["q"]) if "q" in m else None,
            tolerance=float(m["tolerance"]) if "tolerance" in m else None,
            cap=float(m["cap"]) if "cap" in m else None,
            timeout_s=parse_duration(m["timeout"]) if "timeout" in m else None,
            location=loc(f"$.metrics.{name}"),
        )
        for name, m in items.items()
    }


def _guards(items: list[dict[str, Any]], path: str, metrics: dict[str, Metric], loc: Locate) -> tuple[Guard, ...]:
    def opt(g: dict[str, Any], key: str, parse: Callable[[object], float]) -> float | None:
        return parse(g[key]) if key in g else None

    return tuple(
        Guard(
            metric=metrics[g["metric"]],
            max_drop=opt(g, "max_drop", parse_fraction),
            max_increase=opt(g, "max_increase", parse_fraction),
            min=opt(g, "min", parse_threshold),
            max=opt(g, "max", parse_threshold),
            per_segment=bool(g.get("per_segment", False)),
            location=loc(f"{path}[{i}]"),
        )
        for i, g in enumerate(items)
    )


def _stages(items: list[dict[str, Any]], default_guards: tuple[Guard, ...], metrics: dict[str, Metric],
            loc: Locate) -> tuple[Stage, ...]:
    """Each stage with its own guards, or the plan's when it names none."""
    return tuple(
        Stage(
            name=s["name"],
            index=i,
            traffic=parse_share(s.get("traffic", 0)),
            shadow=parse_share(s.get("shadow", 0)),
            min_duration_s=parse_duration(s.get("min_duration", 0)),
            min_units=int(s.get("min_units", 0)),
            approval_required=s.get("approval") == "required",
            guards=_guards(s["guards"], f"$.stages[{i}].guards", metrics, loc) if "guards" in s else default_guards,
            final=bool(s.get("final", False)),
            location=loc(f"$.stages[{i}]"),
        )
        for i, s in enumerate(items)
    )


def _decision(dec: dict[str, Any]) -> Decision:
    return Decision(
        confidence=parse_fraction(dec.get("confidence", DEFAULT_CONFIDENCE)),
        max_duration_s=parse_duration(dec["max_duration"]) if "max_duration" in dec else None,
        on_inconclusive=dec.get("on_inconclusive", "hold"),
        auto_advance=bool(dec.get("auto_advance", True)),
        auto_rollback=bool(dec.get("auto_rollback", True)),
        freshness_s=parse_duration(dec.get("freshness", DEFAULT_FRESHNESS_S)),
        min_units_per_check=int(dec.get("min_units_per_check", DEFAULT_MIN_UNITS_PER_CHECK)),
        max_crossover=parse_fraction(dec.get("max_crossover", DEFAULT_MAX_CROSSOVER)),
        settling_s=parse_duration(dec.get("settling_time", DEFAULT_SETTLING_S)),
    )


def _data(data: dict[str, Any]) -> DataSpec:
    """The data sources, with every column role mapped (an unmapped role keeps its name)."""
    columns = {role: role for role in ROLES}
    columns.update(data.get("columns") or {})
    return DataSpec(
        predictions=_required_source(data["predictions"]),
        outcomes=_source(data.get("outcomes")),
        training=_source(data.get("training")),
        columns=MappingProxyType(columns),
    )


def _rollback(rb: dict[str, Any], teams: dict[str, tuple[str, ...]], loc: Locate) -> Rollback:
    steps = []
    for i, step in enumerate(rb["steps"]):
        kind = cast(StepKind, next(k for k in ("route", "verify", "run", "notify") if k in step))
        steps.append(RollbackStep(
            kind=kind,
            value=tuple(step[kind]) if kind == "run" else step[kind],
            timeout_s=parse_duration(step["timeout"]) if "timeout" in step else None,
            location=loc(f"$.rollback.steps[{i}]"),
        ))
    return Rollback(
        authority=tuple(rb["authority"]),
        approvers=tuple(rb.get("approvers") or ()),
        authorized_people=resolve_people(rb["authority"], teams),
        approver_people=resolve_people(rb.get("approvers") or [], teams),
        max_duration_s=parse_duration(rb["max_duration"]),
        require_drill_s=parse_duration(rb["require_drill"]) if "require_drill" in rb else None,
        steps=tuple(steps),
        user_impact=str(rb.get("user_impact", "")).strip(),
        contacts=tuple(rb.get("contacts") or ()),
        digest=digest(rb),
    )


def _drift(d: Mapping[str, Any]) -> Drift:
    features = tuple(
        DriftFeature(name=f) if isinstance(f, str)
        else DriftFeature(name=f["name"], kind=f.get("kind"),
                          max_psi=float(f["max_psi"]) if "max_psi" in f else None)
        for f in d.get("features") or ())
    reference = d.get("reference", "training")
    action = d.get("on_drift", "alert")
    return Drift(
        features=features,
        max_psi=float(d.get("max_psi", 0.2)),
        outputs=bool(d.get("outputs", False)),
        reference_first_s=parse_duration(reference["baseline_first"]) if isinstance(reference, dict) else None,
        window_s=parse_duration(d["window"]) if "window" in d else 3600.0,
        action="run" if isinstance(action, dict) else action,
        run=tuple(action["run"]) if isinstance(action, dict) else (),
        monitor_for_s=parse_duration(d["monitor_for"]) if "monitor_for" in d else None,
    )
