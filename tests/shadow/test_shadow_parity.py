"""The comparison gives the figures of the statement-per-figure one it replaced, or says by how much not.

`golden/*.json` are the `--json` documents the earlier implementation (a grouped candidate side, a
separate query per figure, a per-unit aggregate, exact quantiles) computed on these simulated logs.
Counts, shares, means, correlations, the Holm flags and the findings must match to floating-point
rounding. Figures whose method changed since (docs/statistics.md, "Shadow comparison") are compared
within the tolerance that change explains, and nowhere else:
- always-valid intervals (random groups of units instead of a per-unit aggregate): each bound within
  `INTERVAL_SHARE` of the golden interval's width; their p-values are not compared;
- unit counts (linear counting instead of counting groups): within 0.5%;
- quantiles (log-spaced histograms instead of sorting): scores and whole-window latency within 2%, latency per
  load bucket within 12% — the bin
  error (0.1%, 0.5%) plus the gap between neighbouring order statistics that `quantile_cont`
  interpolated across (the simulated latencies are rounded to 0.01 ms and thin in the tails);
- the PSI and the binned Spearman correlation (bins at the histogram's quantiles): within 0.001
  and 0.01.
Figures added since (keys the golden documents lack) are not compared here.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from shadow_helpers import write_shadow_plan

from rollout_cli.shadow import compare_shadow
from rollout_cli.sim.shadow_logs import shadow_scenario, simulate_shadow

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "segment": ("shadow-segment", {}),
    "labels": ("shadow-labels", {}),
    "unusual": ("shadow-unusual", {}),
    "load-window": ("shadow-load", {"since": datetime(2026, 1, 5, 0, 40), "until": datetime(2026, 1, 5, 2, 10)}),
    "missing-platform": ("shadow-missing", {"segment": "platform", "timeout_ms": 80.0}),
}


INTERVAL_SHARE = 0.15
QUANTILE = re.compile(r"(quantiles\.p[0-9.]+|\.p50|\.p99|_p50|_p99|latency\.(baseline|candidate)\.p[0-9]+)$")


def _tolerance(where: str) -> tuple[float, float] | None:
    """(relative, absolute) tolerance of a figure whose method changed; None for the exact ones."""
    if where.endswith(".p_value"):
        return (math.inf, math.inf)
    if where.endswith("units"):
        return (0.005, 0.0)
    if QUANTILE.search(where):
        return ((0.12, 0.0) if "buckets" in where else (0.02, 0.0))
    if where.endswith(("distance.value", "shift_value")) or "distance.interval" in where:
        return (0.0, 0.001)
    if where.endswith("spearman"):
        return (0.0, 0.01)
    return None


def same(new: Any, old: Any, where: str = "") -> list[str]:
    """Where `new` differs from `old` (numbers within 1e-9, relative, or the figure's tolerance)."""
    if where.endswith("interval") and "distance" not in where and isinstance(old, list) and isinstance(new, list) \
            and len(old) == len(new) == 2 and all(isinstance(v, (int, float)) for v in old + new):
        width = old[1] - old[0]
        return [f"{where}: {new!r} != {old!r}" for n, o in zip(new, old)
                if abs(n - o) > INTERVAL_SHARE * width + 1e-12][:1]
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(old)
        return [d for k in keys for d in same(new.get(k, "<missing>"), old.get(k, "<missing>"), f"{where}.{k}")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (n, o) in enumerate(zip(new, old)) for d in same(n, o, f"{where}[{i}]")]
    numbers = (int, float)
    if isinstance(old, numbers) and isinstance(new, numbers) and not isinstance(old, bool):
        rel, tol = _tolerance(where) or (1e-9, 1e-12)
        return [] if math.isclose(new, old, rel_tol=rel, abs_tol=tol) else [f"{where}: {new!r} != {old!r}"]
    if isinstance(old, str) and isinstance(new, str) and old != new:
        # reasons and findings print numbers rounded to 3 significant digits: compare them as text
        return [f"{where}: {new!r} != {old!r}"]
    return [] if new == old else [f"{where}: {new!r} != {old!r}"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_figure_matches_the_earlier_implementation(tmp_path: Path, case: str) -> None:
    name, options = CASES[case]
    plan = write_shadow_plan(tmp_path)
    simulate_shadow(plan, tmp_path, scenario=shadow_scenario(plan, name, units=2000), seed=5)
    doc = json.loads(json.dumps(compare_shadow(plan, examples=4, now=datetime(2026, 1, 5, 6), **options).to_json()))
    golden = json.loads((GOLDEN / f"{case}.json").read_text())
    # The shadow guards' bounds and so their outcomes and words follow the guard statistics, which
    # have changed since the golden files were written (alpha spent within the stage's horizon,
    # docs/statistics.md) and are tested there; every figure the comparison itself computes — the
    # guards' estimates included — must still match.
    judged = ("interval", "outcome", "reason", "p_value")
    for check in doc["checks"] + golden["checks"]:
        for key in judged:
            check.pop(key, None)
        if check["metric"] == "shift":  # the PSI, on bins at the histogram's quantiles
            check["shift_value"] = check.pop("value")
    assert same(doc, golden) == []
