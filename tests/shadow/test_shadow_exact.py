"""Every figure of `rollout shadow` exactly as the tree before the pairing's last rework computed it.

`golden/exact/*.json` are the `--json` documents of the comparison on fixed simulated logs (seed 5),
written before the scans were merged (docs/shadow.md, "How it reads the logs"): a change of how the
figures are computed must leave each one equal (numbers to 1e-9, relative). The guards' bounds,
outcomes and words follow the guard statistics (tested in tests/stats) and are left out; their
estimates are compared.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from shadow_helpers import write_shadow_plan

from rollout_cli.shadow import compare_shadow
from rollout_cli.sim.shadow_logs import shadow_scenario, simulate_shadow

EXACT = Path(__file__).parent / "golden" / "exact"
CASES = {"segment": "shadow-segment", "labels": "shadow-labels", "unusual": "shadow-unusual"}
JUDGED = ("interval", "outcome", "reason", "p_value")


def document(tmp_path: Path, case: str) -> dict[str, Any]:
    plan = write_shadow_plan(tmp_path)
    simulate_shadow(plan, tmp_path, scenario=shadow_scenario(plan, CASES[case], units=2000), seed=5)
    doc = json.loads(json.dumps(compare_shadow(plan, examples=4, now=datetime(2026, 1, 5, 6)).to_json()))
    for check in doc["checks"]:
        for key in JUDGED:
            check.pop(key, None)
    return doc


def differences(new: Any, old: Any, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new))
                for d in differences(new.get(k, "<missing>"), old.get(k, "<missing>"), f"{where}.{k}")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (n, o) in enumerate(zip(new, old)) for d in differences(n, o, f"{where}[{i}]")]
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(old, bool):
        return [] if math.isclose(new, old, rel_tol=1e-9, abs_tol=1e-12) else [f"{where}: {new!r} != {old!r}"]
    return [] if new == old else [f"{where}: {new!r} != {old!r}"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_figure_is_unchanged(tmp_path: Path, case: str) -> None:
    doc = document(tmp_path, case)
    assert differences(doc, json.loads((EXACT / f"{case}.json").read_text())) == []
