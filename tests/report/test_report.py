"""`rollout report` as a person sees it: the demo's rollout (harm on iOS caught at ramp-25) in a
real headless Chromium — no console error, no network request, not blank, no sideways scroll on
a phone — and the page's structure: every guard has a chart, the failing segment is named."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chromium import Chromium, chromium_path
from rollout_support import assert_odd_targets_kept, odd_targets

from rollout_cli.plan import load_plan
from rollout_cli.report import WrittenReport, write_report
from rollout_cli.report.data import Section, SeriesChart
from rollout_cli.sim.demo import DemoSummary
from rollout_cli.state.store import StateStore


def _page(demo: DemoSummary) -> str:
    assert demo.report is not None and demo.report.name == "report.html"
    return demo.report.read_text(encoding="utf-8")


def test_every_guard_has_a_chart_and_the_failing_segment_leads(demo: DemoSummary) -> None:
    page = _page(demo)
    lead = page[page.index('<section class="lead"'):page.index("</section>")]
    assert "What failed: rolled back at ramp-25" in lead
    assert re.findall(r'data-failing-segment="([^"]+)"', lead) == ["platform=ios"]
    guards = re.findall(r'<h3 data-guard="([^"]+)">', page)
    assert guards == ["agreement · min 90%", "conversion · max_drop 10%"]
    for guard in guards:  # the heading is followed by its chart
        after = page[page.index(f'data-guard="{guard}"'):]
        assert after.index("<svg") < after.index("</figure>")
    segments = page[page.index('data-guard="conversion'):page.index('id="latest"')]
    assert all(name in segments for name in ("everyone", "platform=android", "platform=ios", "platform=web"))
    assert 'data-chart="forest-0"' in page and 'data-chart="srm"' in page and 'data-chart="ramp"' in page
    assert 'data-chart="runs"' in page  # the drill and the rollback against the budget
    for words in ("conversion (share of units with a purchase event", "drill", "rollback from ramp-25"):
        assert words in page


def test_the_page_fetches_nothing_and_runs_nothing(demo: DemoSummary) -> None:
    page = _page(demo)
    assert "<script" not in page.lower() and "@import" not in page and "@font-face" not in page
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)
    assert all(ref.startswith("#") for ref in references), references
    assert "default-src 'none'" in page
    assert len(page.encode()) < 3_000_000


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (scripts/test installs it)")
def test_chromium_shows_it_without_errors_or_requests_on_a_laptop_and_a_phone(drift_report: WrittenReport) -> None:
    """The demo's report with every optional section (its plan plus drift: conftest.drift_report)."""
    from matplotlib.image import imread

    browser = Chromium()
    try:
        visits = {"laptop": browser.visit(drift_report.path, width=1280, height=900, mobile=False),
                  "phone": browser.visit(drift_report.path, width=390, height=844, mobile=True)}
    finally:
        browser.close()
    for name, visit in visits.items():
        assert visit.console == [], name
        assert visit.requests == [], name
        pixels = imread(io.BytesIO(visit.screenshot))[:, :, :3]
        not_white = (pixels < 0.95).any(axis=2).mean()
        assert not_white > 0.02, f"{name}: the screenshot is blank"
        assert len({tuple(p) for p in pixels.reshape(-1, 3)[::97]}) > 10, f"{name}: one flat colour"
        for section, charts in (("guards", 2), ("shadow", 1), ("drift", 2)):  # laid out, charts drawn
            height, drawn = visit.sections[section]
            assert height > 100 and drawn == charts, (name, section, visit.sections[section])
    assert visits["phone"].overflow_px <= 0  # nothing wider than a phone: tables scroll inside their box


def _copy_store(demo: DemoSummary, tmp_path: Path) -> StateStore:
    shutil.copytree(demo.directory / ".rollout", tmp_path / "state")
    return StateStore.open(tmp_path / "state")


def test_every_string_from_the_plan_and_the_trail_is_escaped(demo: DemoSummary, tmp_path: Path) -> None:
    plan = load_plan(demo.plan_path)
    store = _copy_store(demo, tmp_path)
    store.record_event(plan, "hold", "<img src=x onerror=alert(1)>", True, "</table><script>alert(2)</script>",
                       "ramp-25", None, None, at=datetime.now(UTC))
    section = Section("shadow", "Shadow <comparison>", ("agreement $5 & <b>more</b>",),
                      (("metric", "value"), ("agreement", "<i>0.97</i>")),
                      (SeriesChart("agreement $x$ over time", "share", ((datetime(2026, 1, 5, tzinfo=UTC), 0.9),
                                                                        (datetime(2026, 1, 6, tzinfo=UTC), 0.95)),
                                   limit=0.9),))
    written = write_report(plan, store, tmp_path / "r.html", now=datetime.now(UTC), sections=[section])
    page = written.path.read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page and "<b>more" not in page and "<i>0.97" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;/table&gt;&lt;script&gt;" in page
    assert "Shadow &lt;comparison&gt;" in page and 'data-section="shadow"' in page
    assert "agreement $x$ over time" in page  # drawn as written, not as mathtext
    assert written.sections.index("shadow") > written.sections.index("latest")


def test_optional_sections_appear_only_with_their_data(demo: DemoSummary) -> None:
    """The demo's plan has a shadow stage that ran, and checks no drift."""
    assert re.findall(r'data-section="([^"]+)"', _page(demo)) == ["shadow"]


def _report(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rollout_cli", "report", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, check=False)


def test_the_command_writes_the_report_and_refuses_bad_input(demo: DemoSummary, tmp_path: Path) -> None:
    plan, state = str(demo.plan_path), str(demo.directory / ".rollout")
    done = _report([plan, "--state-dir", state, "--out", str(tmp_path / "out" / "r.html"), "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "r.html").read_text().startswith("<!DOCTYPE html>")

    no_state = _report([plan, "--state-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "a.html")], tmp_path)
    assert no_state.returncode == 2
    assert "no rollout state for demo-ranker: looked in" in no_state.stderr
    assert not (tmp_path / "a.html").exists() and not (tmp_path / "nothing").exists()

    (tmp_path / "a-file").write_text("x")
    unwritable = _report([plan, "--state-dir", state, "--out", str(tmp_path / "a-file" / "r.html")], tmp_path)
    assert unwritable.returncode == 2
    assert f"cannot write {tmp_path / 'a-file' / 'r.html'}" in unwritable.stderr
    assert "Traceback" not in unwritable.stderr


def test_a_pipe_a_device_a_link_or_a_folder_where_the_report_goes_is_refused(demo: DemoSummary,
                                                                              tmp_path: Path) -> None:
    """report replaces its file without --force: never a device (a FIFO stands in for one) or a link."""
    for target, words in odd_targets(tmp_path, ".html").items():
        result = _report([str(demo.plan_path), "--state-dir", str(demo.directory / ".rollout"), "--out", str(target)],
                         tmp_path)
        assert result.returncode == 2, result.stdout
        assert result.stderr.splitlines()[0] == f"error: --out {target} {words}"
    assert_odd_targets_kept(tmp_path, ".html")


def test_a_rollout_without_evaluations_gets_a_message_and_no_file(demo: DemoSummary, tmp_path: Path) -> None:
    store = _copy_store(demo, tmp_path)
    with store.write() as conn:
        conn.execute("DELETE FROM evaluation_checks")
        conn.execute("DELETE FROM evaluations")
    store.close()
    result = _report([str(demo.plan_path), "--state-dir", str(tmp_path / "state"), "--out",
                      str(tmp_path / "r.html")], tmp_path)
    assert result.returncode == 2
    assert "demo-ranker has no evaluation on record yet" in result.stderr
    assert list(tmp_path.glob("*.html")) == [] and list(tmp_path.glob(".*partial")) == []
