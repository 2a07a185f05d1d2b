"""Property: whatever a pull request does to a valid plan, `plan validate` answers 0 or 2 with
located problems — never a crash — and a plan it accepts always builds."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_paths import GOOD_FILES

from rollout_cli.cli.main import main
from rollout_cli.plan import load_plan
from rollout_cli.plan.load import load_plan_file

BASES = [load_plan_file(path).data for path in GOOD_FILES]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10_000),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "5%",
            "150%",
            "24h",
            "2 hours",
            "${env:X}",
            "${env:",
            "team:nobody",
            "baseline",
            "router",
            "agreement",
            "proportion",
            "required",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _containers(node: Any, found: list[Any]) -> list[Any]:
    if isinstance(node, (dict, list)):
        found.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            _containers(child, found)
    return found


@st.composite
def mutated_plans(draw: st.DrawFn) -> Any:
    plan = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        targets = _containers(plan, [])
        if not targets:
            break
        target = draw(st.sampled_from(targets))
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        action = draw(st.sampled_from(["drop", "retype", "unknown", "swap"]))
        if action == "unknown" and isinstance(target, dict):
            target[draw(st.text(min_size=1, max_size=10))] = draw(VALUES)
        elif not keys:
            continue
        elif action == "drop":
            del target[draw(st.sampled_from(keys))]
        elif action == "retype":
            target[draw(st.sampled_from(keys))] = draw(VALUES)
        elif action == "swap" and isinstance(target, list) and len(target) > 1:
            i, j = draw(st.sampled_from(keys)), draw(st.sampled_from(keys))
            target[i], target[j] = target[j], target[i]
    return plan


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutations")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_plans())
def test_validate_never_crashes_and_locates_every_problem(workdir: Path, plan: Any) -> None:
    path = workdir / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False, allow_unicode=True), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["plan", "validate", "--format", "json", str(path)])
    assert code in (0, 2), err.getvalue()
    assert "internal error" not in err.getvalue()
    (report,) = json.loads(out.getvalue())["files"]
    assert report["valid"] == (code == 0)
    lines = path.read_text(encoding="utf-8").count("\n") + 1
    for error in report["errors"]:
        assert 1 <= error["line"] <= lines and error["column"] >= 1
        assert error["path"].startswith("$") and error["message"]
    if code == 0:
        load_plan(path)  # what validate accepts, every command can build


TEXTS = [path.read_text(encoding="utf-8") for path in GOOD_FILES]
YAML_NOISE = st.text(alphabet=st.sampled_from(list(":-[]{},&*!|>'\"#%@`?~ \n\tab1%${}")), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TEXTS), st.data())
def test_text_edits_never_crash_validate(workdir: Path, text: str, data: st.DataObject) -> None:
    """Edits below the data model: broken YAML, stray anchors, tags, indentation."""
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    edited = text[:start] + data.draw(YAML_NOISE) + text[end:]
    path = workdir / "edited.yaml"
    path.write_text(edited, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["plan", "validate", "--format", "json", str(path)])
    assert code in (0, 2) and "internal error" not in err.getvalue()
    (report,) = json.loads(out.getvalue())["files"]
    assert all(e["line"] >= 1 and e["column"] >= 1 and e["message"] for e in report["errors"])
    if code == 0:
        load_plan(path)
