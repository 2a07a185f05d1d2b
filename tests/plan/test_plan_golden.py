"""Golden plans: every good file validates and builds; every bad file gives exactly the
problems, lines and columns written next to it in NAME.expected.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plan_paths import BAD_FILES, GOOD_FILES, ROOT

from rollout_cli.errors import PlanError
from rollout_cli.plan import load_plan
from rollout_cli.plan.validate_files import validate_file


@pytest.mark.parametrize("path", GOOD_FILES, ids=lambda p: p.name)
def test_good_plans_validate_and_build(path: Path) -> None:
    assert validate_file(path).problems == ()
    plan = load_plan(path)
    assert plan.stages and plan.rollback.steps


def test_there_are_three_example_plans() -> None:
    names = sorted(p.name for p in (ROOT / "plans").glob("*.yaml"))
    assert names == ["fraud-classifier.yaml", "ranker-v42.yaml", "support-intent-classifier.yaml"]


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.name)
def test_bad_plans_give_exactly_the_expected_problems(path: Path) -> None:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text(encoding="utf-8"))
    report = validate_file(path)
    assert [p.to_json() for p in report.problems] == expected
    assert all(p.file == str(path) for p in report.problems)


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.name)
def test_load_plan_refuses_bad_plans_with_every_problem(path: Path) -> None:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text(encoding="utf-8"))
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert [p.to_json() for p in caught.value.problems] == expected


def test_every_bad_file_has_its_expectations() -> None:
    expectations = {p.name.removesuffix(".expected.json") for p in BAD_FILES[0].parent.glob("*.expected.json")}
    assert expectations == {p.stem for p in BAD_FILES}


def test_the_example_in_the_spec_validates_unchanged() -> None:
    spec_example = (ROOT / "plans" / "ranker-v42.yaml").read_text(encoding="utf-8")
    assert "name: ranker-v42" in spec_example
    assert validate_file(ROOT / "plans" / "ranker-v42.yaml").valid


def test_problems_are_not_repeated() -> None:
    for path in BAD_FILES:
        problems = validate_file(path).problems
        assert len(set(problems)) == len(problems), path.name
