"""`rollout report`: the rollout on one self-contained HTML page (docs/report.md).

Contract:
- `write_report(plan, store, out, now=..., sections=())` gathers the plan, the audit trail, the
  evaluation history and the drills (data.py), draws the charts as inline SVG (charts.py, with
  matplotlib imported lazily) and writes one page (page.py) under a temporary name, renamed
  over `out` when complete.
- The page makes no network request of any kind (no script, no external style or font; a
  Content-Security-Policy forbids them) and escapes every string from the plan, the state or
  the logs.
- Optional sections (shadow comparison, drift, ...) are `data.Section`s — plain data that the
  page renders when given; a section whose data do not exist is simply not passed. By default
  (`sections=None`) they are evidence.py's: the shadow comparison when the plan's shadow stage
  ran, drift when the plan checks drift.
- A rollout without state, or without any evaluation on record, is a UsageError and no file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rollout_cli.errors import UsageError
from rollout_cli.files import replacing
from rollout_cli.plan.model import Plan
from rollout_cli.report.data import Section, gather
from rollout_cli.state.store import StateStore


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    size: int
    sections: tuple[str, ...]  # the ids of the page's sections, in order


def write_report(plan: Plan, store: StateStore, out: Path, *, now: datetime,
                 sections: list[Section] | None = None) -> WrittenReport:
    """Write the report of `plan` to `out` (see the module contract)."""
    import re

    from rollout_cli.report.page import render

    if store.get(plan.name) is None:
        raise UsageError(f"{plan.name} has no state in {store.state_dir}: the rollout has not started, so there is "
                         "nothing to report", hint="check --state-dir, or start the rollout first")
    data = gather(plan, store, now=now, sections=sections)
    if data.evaluations and sections is None:
        from dataclasses import replace

        from rollout_cli.report.evidence import evidence_sections

        data = replace(data, sections=evidence_sections(plan, data.periods, now))
    if not data.evaluations:
        raise UsageError(f"{plan.name} has no evaluation on record yet: a report would have no guard to show; "
                         "nothing was written", hint=f"let the controller tick, or run `rollout evaluate` "
                                                     f"({store.state_dir} keeps every evaluation)")
    page = render(data)
    with replacing(out, force=True) as temporary:
        temporary.write_text(page, encoding="utf-8")
    ids = tuple(re.findall(r'<section[^>]* id="([^"]+)"', page))
    return WrittenReport(out, len(page.encode()), ids)
