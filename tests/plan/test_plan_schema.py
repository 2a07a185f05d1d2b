"""The shipped JSON Schema: well formed, fully described, strict, and in agreement with the
validator on every example (the jsonschema library and check-jsonschema as referees)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_paths import BAD_FILES, GOOD_FILES, ROOT

from rollout_cli.plan.load import LoadError, load_plan_file
from rollout_cli.plan.model import ROLES
from rollout_cli.plan.schema_check import SCHEMA_PATH, plan_schema, schema_problems
from rollout_cli.units import DURATION_PATTERN, parse_duration, parse_fraction, parse_share

SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
REFEREE = jsonschema.Draft202012Validator(SCHEMA)


def _objects(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield path, node
        for key, value in node.items():
            if key != "if":  # conditions, not definitions
                yield from _objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{path}/{i}")


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_property_is_described() -> None:
    undescribed = [
        f"{path}/{name}"
        for path, node in _objects(SCHEMA)
        for name, sub in node.get("properties", {}).items()
        if not sub.get("description")
    ]
    assert undescribed == []


def test_every_object_refuses_unknown_keys() -> None:
    # Open maps (metrics, teams, router options) say what their values are instead.
    loose = [path for path, node in _objects(SCHEMA) if node.get("additionalProperties", True) is True]
    assert loose == []


def test_units_and_roles_come_from_the_code() -> None:
    assert SCHEMA["$defs"]["duration"]["oneOf"][0]["pattern"] == DURATION_PATTERN
    assert set(SCHEMA["properties"]["data"]["properties"]["columns"]["properties"]) == set(ROLES)
    assert SCHEMA["$defs"]["metric"]["properties"]["kind"]["enum"] == ["proportion", "mean", "quantile", "agreement", "coverage", "score_shift"]


def test_the_command_prints_the_file_and_the_repository_copy_matches() -> None:
    assert plan_schema() == SCHEMA
    assert (ROOT / "plans" / "plan.schema.json").read_text(encoding="utf-8") == SCHEMA_PATH.read_text(encoding="utf-8")


def _loadable(path: Path) -> bool:
    try:
        load_plan_file(path)
    except LoadError:  # not plain YAML data at all: the loader's rules, not the schema's
        return False
    return True


LOADABLE = [path for path in GOOD_FILES + BAD_FILES if _loadable(path)]


@pytest.mark.parametrize("path", LOADABLE, ids=lambda p: p.name)
def test_schema_and_validator_agree(path: Path) -> None:
    """The referee rejects a file exactly when our schema half reports a problem."""
    doc = load_plan_file(path)
    referee_rejects = not REFEREE.is_valid(doc.data)
    assert bool(schema_problems(doc)) == referee_rejects


def test_check_jsonschema_rejects_exactly_the_schema_level_bad_files() -> None:
    """One run of the independent tool over every loadable example."""
    tool = shutil.which("check-jsonschema")
    if tool is None:
        pytest.skip("check-jsonschema is not installed")
    loadable = [str(path) for path in LOADABLE]
    schema_level = {str(path) for path in LOADABLE if schema_problems(load_plan_file(path))}
    result = subprocess.run(
        [tool, "-o", "json", "--schemafile", str(SCHEMA_PATH), *loadable], capture_output=True, text=True
    )
    rejected = {error["filename"] for error in json.loads(result.stdout)["errors"]}
    assert len(schema_level) >= 8
    assert rejected == schema_level


def _accepts(definition: str, value: object) -> bool:
    return jsonschema.Draft202012Validator(SCHEMA["$defs"][definition]).is_valid(value)


def _parses(parse: Any, value: object) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


# ASCII digits: the parsers (Python's float) also read other scripts' digits, which the schema,
# and therefore validate, refuses before any parser sees them.
unit_texts = st.from_regex(re.compile(r"[ \t]?-?[0-9]{1,4}(\.[0-9]{1,3})?[ \t]?(s|m|h|d|w|y|%|)[ \t]?"), fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(unit_texts)
def test_duration_and_share_patterns_accept_what_the_parsers_accept(text: str) -> None:
    assert _accepts("duration", text) == _parses(parse_duration, text)
    assert _accepts("share", text) == _parses(parse_share, text)
    assert _accepts("fraction", text) == (_parses(parse_fraction, text) and parse_fraction(text) <= 1)
