"""The fast validity check (jsonschema-rs) never passes a plan that jsonschema would refuse.

`schema_problems` trusts jsonschema-rs only when it says "valid"; every other answer goes to
jsonschema. So the one thing that must hold: whatever jsonschema-rs accepts, jsonschema accepts too
(and the valid plans we ship take the fast path at all)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_paths import BAD_FILES, GOOD_FILES
from test_plan_mutations import VALUES, mutated_plans

from rollout_cli.plan.load import LoadError, load_plan_file
from rollout_cli.plan.schema_check import _plain_json, _surely_valid, _validator, schema_problems


def jsonschema_accepts(data: Any) -> bool:
    return next(iter(_validator().iter_errors(data)), None) is None


@pytest.mark.parametrize("path", GOOD_FILES, ids=lambda p: p.name)
def test_a_valid_plan_takes_the_fast_path(path: Any) -> None:
    data = load_plan_file(path).data
    assert jsonschema_accepts(data)
    assert _surely_valid(data)


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.name)
def test_the_bad_plans_are_judged_by_jsonschema(path: Any) -> None:
    try:
        doc = load_plan_file(path)
    except LoadError:
        return  # refused before any schema
    if _surely_valid(doc.data):
        assert jsonschema_accepts(doc.data) and schema_problems(doc) == []
    else:
        assert schema_problems(doc) == [] if jsonschema_accepts(doc.data) else schema_problems(doc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_plans())
def test_what_the_fast_check_accepts_jsonschema_accepts(plan: Any) -> None:
    if _surely_valid(plan):
        assert jsonschema_accepts(plan), plan


TRICKY = st.sampled_from(["abc\n", "5%\n", "٣%", "\x1c5%", "5 %", "24h\n", "team:a\n", "1e3", "\u00a05%", "\u20285h"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_plans(), st.data())
def test_text_the_two_regex_engines_may_read_differently(plan: Any, data: st.DataObject) -> None:
    """Trailing newlines (Python's `$` matches before one), digits and spaces outside ASCII."""
    strings = [(node, key) for node, key in _string_slots(plan, [])]
    if strings:
        node, key = data.draw(st.sampled_from(strings))
        node[key] = data.draw(TRICKY | VALUES)
    if _surely_valid(plan):
        assert jsonschema_accepts(plan), plan


def _string_slots(node: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(value, str):
            found.append((node, key))
        _string_slots(value, found)
    return found


def test_unusual_values_go_to_jsonschema() -> None:
    assert not _plain_json({"a": float("nan")}) and not _plain_json({"a": 2**60}) and not _plain_json({1: "x"})
    assert _plain_json({"a": [1, 2.5, None, True, "x"]})
    assert not _surely_valid({"version": float("inf")})
