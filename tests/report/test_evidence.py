"""The report's shadow comparison and drift sections (report/evidence.py), on the demo's rollout:
shown when the plan has them and their data exist, with their figures, tables and charts; a log
that cannot be read is said, not hidden."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml
from rollout_cli.report import WrittenReport
from rollout_cli.report.evidence import drift_section, shadow_section
from rollout_cli.sim.demo import DemoSummary, demo_plan
from rollout_cli.state.store import StateStore
from rollout_cli.state.timeline import stage_periods


def _section(page: str, key: str) -> str:
    start = page.index(f'<section id="{key}"')
    return page[start:page.index("</section>", start)]


def _text(html: str) -> str:
    return re.sub(r"<svg.*?</svg>", "", html, flags=re.DOTALL)


def test_the_shadow_section_shows_the_demo_shadow_stage(demo: DemoSummary) -> None:
    assert demo.report is not None
    page = demo.report.read_text(encoding="utf-8")
    shadow = _section(page, "shadow")
    text = _text(shadow)
    assert "<h2>Shadow comparison (shadow)</h2>" in text
    paired = re.search(r"(\d+) of (\d+) baseline requests had the candidate&#x27;s answer \(100\.0%\)", text)
    assert paired and paired.group(1) == paired.group(2) and int(paired.group(1)) > 10_000
    assert re.search(r"Agreement 100\.0% \[\d+\.\d%, 100\.0%\] \(\d+ of \d+ paired requests, scores within 0\.05",
                     text)
    assert "Shadow guards: pass; agreement min 90%: pass." in text
    assert "Score distributions: PSI 0.000" in text and "No credible difference found." in text
    rows = re.findall(r"<tr><td>platform</td><td>(\w+)</td>", text)
    assert sorted(rows) == ["android", "ios", "web"]
    assert shadow.count('<figure data-chart="shadow-0">') == 1 and shadow.count("<svg") == 1
    assert page.index('id="shadow"') < page.index('id="runs"')


def test_the_drift_section_charts_every_output_against_its_threshold(drift_report: WrittenReport) -> None:
    assert drift_report.sections.index("shadow") < drift_report.sections.index("drift") \
        < drift_report.sections.index("runs")
    drift = _section(drift_report.path.read_text(encoding="utf-8"), "drift")
    text = _text(drift)
    assert "each model&#x27;s own first answers" in text and "No column drifted in its last complete window." in text
    rows = re.findall(r"<tr><td>(prediction \(\w+\))</td><td>[^<]+</td><td>([^<]+)</td><td>(\d\.\d{3})</td>", text)
    assert [(name, decision) for name, decision, _ in rows] == [("prediction (baseline)", "not drifted"),
                                                                 ("prediction (candidate)", "not drifted")]
    assert all(float(psi) < 0.2 for *_, psi in rows)
    for i, name in enumerate(("baseline", "candidate")):
        assert f'<figure data-chart="drift-{i}">' in drift
        assert f"prediction ({name}): PSI per window against 0.2" in drift
    assert drift.count("<svg") == 2


def _plan_with(demo: DemoSummary, tmp_path: Path, **changes: object) -> Path:
    document = {**demo_plan(demo.directory), **changes}
    path = tmp_path / "plan.yaml"
    path.write_text(plan_yaml(document))
    return path


def test_drift_that_cannot_be_read_is_said_not_hidden(demo: DemoSummary, tmp_path: Path) -> None:
    plan = load_plan(_plan_with(demo, tmp_path, drift={"reference": {"baseline_first": "1h"}, "features": ["price"]}))
    store = StateStore.open(demo.directory / ".rollout")
    periods = stage_periods(store.events(plan.name))
    store.close()
    section = drift_section(plan, periods, demo.ticks[-1].at)
    assert section is not None and section.key == "drift" and not section.charts
    assert section.paragraphs[0].startswith("Could not be computed from the logs:")
    assert "price" in section.paragraphs[0]


def test_no_section_without_its_plan_or_its_data(demo: DemoSummary) -> None:
    plan = load_plan(demo.plan_path)
    store = StateStore.open(demo.directory / ".rollout")
    periods = stage_periods(store.events(plan.name))
    store.close()
    now = demo.ticks[-1].at
    assert drift_section(plan, periods, now) is None  # the demo's plan checks no drift
    assert shadow_section(plan, [], now) is None  # the rollout has not run its shadow stage
    assert shadow_section(plan, [p for p in periods if p.stage != "shadow"], now) is None
    renamed = [replace(p, stage="elsewhere") if p.stage == "shadow" else p for p in periods]
    assert shadow_section(plan, renamed, now) is None
