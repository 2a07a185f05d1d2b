"""From a schema-valid plan document to the frozen `Plan` of plan/model.py.

`build_plan` resolves durations, shares, team references and metric references once; each part
keeps its source location so later errors can point into the YAML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, cast

from rollout_cli.plan.load import LoadedDocument, Location
from rollout_cli.plan.model import (
    DEFAULT_CONFIDENCE,
    DEFAULT_FRESHNESS_S,
    DEFAULT_HELD_LONGER_THAN_S,
    DEFAULT_MAX_CROSSOVER,
    DEFAULT_MIN_UNITS_PER_CHECK,
    DEFAULT_SETTLING_S,
    NOTIFY_EVENTS,
    ROLES,
    DataSource,
    DataSpec,
    Decision,
    Drift,
    DriftFeature,
    Guard,
    Metric,
    NotifyTarget,
    Plan,
    PrometheusCounts,
    Rollback,
    RollbackStep,
    Router,
    SparkSpec,
    Stage,
    StepKind,
    digest,
)
from rollout_cli.units import parse_duration, parse_fraction, parse_rate, parse_share, parse_threshold


def _source(value: Any) -> DataSource | None:
    if value is None or isinstance(value, DataSource):
        return value
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
            prometheus=_prometheus(m.get("prometheus")) if m.get("source") == "prometheus" else None,
            location=loc(f"$.metrics.{name}"),
        )
        for name, m in items.items()
    }


def _prometheus(p: dict[str, Any]) -> PrometheusCounts:
    def pair(queries: dict[str, str]) -> tuple[str, str]:
        return queries["baseline"], queries["candidate"]

    return PrometheusCounts(url=p["url"], count=pair(p["count"]), total=pair(p["total"]), token=p.get("token"))


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
            max_duration_s=parse_duration(s["max_duration"]) if "max_duration" in s else None,
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
    spark = data.get("spark")
    tables = (spark or {}).get("tables") or {}  # Spark catalog tables take the place of the sources they name
    sources = {role: DataSource(catalog_table=str(tables[role])) if role in tables else _source(data.get(role))
               for role in ("predictions", "outcomes", "training")}
    return DataSpec(
        predictions=_required_source(sources["predictions"]),
        outcomes=sources["outcomes"],
        training=sources["training"],
        columns=MappingProxyType(columns),
        engine="spark" if data.get("engine") == "spark" else "duckdb",
        spark=None if spark is None else SparkSpec(
            connect=spark.get("connect"), master=spark.get("master"),
            conf=MappingProxyType({str(k): str(v) for k, v in (spark.get("conf") or {}).items()})),
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
