"""The JSON Schema half of validation: run the shipped schema, then say each error in words.

jsonschema's own messages ("{} is not valid under any of the given schemas") are written for
schema authors; plan authors get the key, the value and what to write instead, located at the
line and column the loader recorded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rollout_cli.plan.load import LoadedDocument, Problem, child_path
from rollout_cli.plan.suggest import did_you_mean
from rollout_cli.units import parse_duration, parse_fraction, parse_share, parse_threshold

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCHEMA_PATH = Path(__file__).with_name("schema.json")

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


@lru_cache(maxsize=1)
def plan_schema() -> dict[str, Any]:
    """The plan's JSON Schema (draft 2020-12), as shipped with the package."""
    with SCHEMA_PATH.open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@lru_cache(maxsize=1)
def _inlined_defs() -> dict[str, Any]:
    """The schema's $defs with every local $ref replaced by the (shared) definition it names.

    Resolving a $ref is most of jsonschema's work on a plan; the plan schema has no recursive
    definitions, so it can be inlined once. Shared objects also let an error's subschema be
    recognised by identity (see _def_name)."""
    defs = plan_schema()["$defs"]
    done: dict[str, Any] = {}

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref[len("#/$defs/") :]
            if name not in done:
                done[name] = inline(defs[name])
            return done[name]  # a sibling description is an annotation: nothing to validate
        return {key: inline(value) for key, value in node.items()}

    for name in defs:
        if name not in done:
            done[name] = inline(defs[name])
    done["$root"] = inline({k: v for k, v in plan_schema().items() if k != "$defs"})
    return done


@lru_cache(maxsize=1)
def _validator() -> Any:
    # Imported here: jsonschema costs tens of milliseconds and only validation needs it.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_inlined_defs()["$root"])


def type_word(value: Any) -> str:
    """How a person would name the type of a YAML value."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    return "nothing" if value is None else type(value).__name__


def _path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path = child_path(path, part)
    return path


def _unit_message(parse: Callable[[object], float], value: Any, limit: str) -> str:
    """The unit parser's own message, else (the value parses but is out of range) `limit`."""
    try:
        parse(value)
    except ValueError as error:
        return str(error)
    return f"{value!r} {limit}"


_UNIT_MESSAGES: dict[str, Callable[[Any], str]] = {
    "duration": lambda v: _unit_message(parse_duration, v, "is not a duration (write e.g. 30m, 24h, 14d)"),
    "share": lambda v: _unit_message(parse_share, v, "is outside 0%..100%"),
    "fraction": lambda v: _unit_message(parse_fraction, v, "is above 100%"),
    "relative": lambda v: _unit_message(parse_fraction, v, "is not a percentage (write e.g. 10% or 0.1)"),
    "threshold": lambda v: _unit_message(parse_threshold, v, "is not a number or a percentage"),
}


_NAME_HINT = "use letters, digits, '.', '_' and '-' (no spaces), starting with a letter or digit"
_PATTERN_HINTS = {
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$": _NAME_HINT,
    r"^[A-Za-z][A-Za-z0-9_.-]*$": "use a letter, then letters, digits, '_', '.' or '-'",
    r"^[^\s\x00-\x1f](.*[^\s\x00-\x1f])?$": "a column name without leading or trailing spaces",
    r"^(team:)?[A-Za-z0-9][A-Za-z0-9._@+-]*$": "write a login name (letters, digits, '.', '_', '@', '+', '-') or team:NAME",
    r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$": "write a login name (letters, digits, '.', '_', '@', '+', '-')",
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$": "write a table name such as predictions or main.predictions",
}
_METRIC_KEY_HINTS = {
    "q": "the quantile level, e.g. q: 0.99",
    "column": "a prediction-log column, e.g. column: latency_ms",
}


def _def_name(schema: Any) -> str | None:
    for name, definition in _inlined_defs().items():
        if schema is definition:
            return name
    return None


class _Translator:
    """Turns one jsonschema error into located problems a person understands."""

    def __init__(self, doc: LoadedDocument) -> None:
        self.doc = doc

    def problem(self, path: str, message: str, *, key: bool = False) -> Problem:
        loc = self.doc.locate(path, key=key)
        return Problem(self.doc.file, loc.line, loc.column, path, message)

    def translate(self, error: ValidationError) -> Iterator[Problem]:
        path = _path(error.absolute_path)
        value = error.instance
        schema = error.schema if isinstance(error.schema, dict) else {}
        kind = error.validator
        if kind == "additionalProperties" and isinstance(value, dict):
            known = list(schema.get("properties", {}))
            for key in value:
                if key not in known:
                    hint = did_you_mean(str(key), known)
                    yield self.problem(child_path(path, str(key)), f"unknown key {key!r}{hint}", key=True)
            return
        if "propertyNames" in error.relative_schema_path and isinstance(value, str):
            # A bad key: point at the key itself, not at the mapping holding it.
            key_path = child_path(path, value)
            message = self._simple_message(error, key_path, value, schema)
            yield self.problem(key_path, f"name {message}", key=True)
            return
        if kind in ("oneOf", "anyOf"):
            yield from self._alternatives(error, path, value, schema)
            return
        if kind == "required" and isinstance(value, dict):
            # One error per missing key arrives; saying all of them each time is harmless, as
            # validate_document drops repeats.
            for key in error.validator_value:
                if key not in value:
                    yield self.problem(path, self._required_message(error, value, key))
            return
        yield self.problem(path, self._simple_message(error, path, value, schema))

    @staticmethod
    def _required_message(error: ValidationError, value: dict[str, Any], key: str) -> str:
        if "then" in error.relative_schema_path:
            return f"a {value.get('kind')} metric needs {key!r} ({_METRIC_KEY_HINTS.get(key, '')})"
        return f"missing required key {key!r}"

    def _simple_message(self, error: ValidationError, path: str, value: Any, schema: dict[str, Any]) -> str:
        kind, limit = error.validator, error.validator_value
        if kind == "type":
            wanted = limit if isinstance(limit, list) else [limit]
            words = " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in wanted)
            return f"expected {words}, got {type_word(value)}"
        if kind == "const":
            return f"must be {limit!r}, not {value!r}"
        if kind == "enum":
            choices = [str(c) for c in limit]
            near = did_you_mean(str(value), choices, list_when_none=False)
            return f"{value!r} is not one of: {', '.join(choices)}{near}"
        if kind == "pattern":
            hint = _PATTERN_HINTS.get(str(limit), schema.get("description", ""))
            if "env:" in str(limit):  # a place for a secret reference: what was written may be the secret itself
                return f"a value written inline is not allowed here (not shown: it may be a secret): {hint}"
            return f"{value!r} is not allowed here: {hint}"
        if kind in ("minItems", "minProperties"):
            if path == "$.rollback.authority":
                return "nobody may roll back: name people or team:NAME here"
            return "must not be empty" if limit == 1 else f"needs at least {limit} entries"
        if kind == "uniqueItems" and isinstance(value, list):
            seen: set[str] = set()
            for item in value:
                marker = json.dumps(item, sort_keys=True, default=str)
                if marker in seen:
                    return f"{item!r} is listed more than once"
                seen.add(marker)
        if kind == "minLength":
            return "must not be empty"
        if kind == "maxLength":
            return f"is longer than {limit} characters"
        bounds = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }
        if kind in bounds:
            return f"{value!r} is out of range: must be {bounds[kind]} {limit}"
        return error.message

    def _alternatives(self, error: ValidationError, path: str, value: Any, schema: dict[str, Any]) -> Iterator[Problem]:
        name = _def_name(schema)
        if name in _UNIT_MESSAGES:
            yield self.problem(path, _UNIT_MESSAGES[name](value))
        elif name == "guard":
            yield self.problem(path, "a guard needs at least one limit: max_drop, max_increase, min or max")
        elif name == "step":
            actions = [k for k in ("route", "verify", "run", "notify") if isinstance(value, dict) and k in value]
            if actions:
                yield self.problem(path, f"a rollback step does one thing; this one has {' and '.join(actions)}")
            else:
                yield self.problem(path, "a rollback step needs one of: route, verify, run, notify")
        elif name == "source" and isinstance(value, dict):
            # The mapping form was meant: report what is wrong with it, not both alternatives.
            for sub in error.context:
                if sub.relative_schema_path and sub.relative_schema_path[0] == 1:
                    yield from self.translate(sub)
        elif name == "source":
            yield self.problem(
                path, f"expected a file path or glob, or {{database: FILE, table: NAME}}; got {type_word(value)}"
            )
        elif name == "option_value":
            yield self.problem(
                path, f"router options hold text, numbers, true/false or lists of those; got {type_word(value)}"
            )
        elif "then" in error.relative_schema_path and isinstance(value, dict):
            kind = value.get("kind")
            if "event" in value and "column" in value:
                yield self.problem(path, f"a {kind} metric takes either 'event' or 'column', not both")
            else:
                yield self.problem(
                    path, f"a {kind} metric needs 'event' (an outcome event) or 'column' (a prediction-log column)"
                )
        elif (matching := _alternative_of_type(schema, value)) is not None:
            # One alternative has the value's type (drift.reference, drift.on_drift, a feature):
            # what is wrong with that one is the useful message.
            for sub in error.context:
                if sub.relative_schema_path and sub.relative_schema_path[0] == matching:
                    yield from self.translate(sub)
        else:
            yield self.problem(path, error.message)


def _alternative_of_type(schema: dict[str, Any], value: Any) -> int | None:
    """The index of the only oneOf alternative declaring the JSON type of `value`, if exactly one does."""
    wanted = "object" if isinstance(value, dict) else "string" if isinstance(value, str) else None
    found = [i for i, alt in enumerate(schema.get("oneOf", [])) if isinstance(alt, dict) and alt.get("type") == wanted]
    return found[0] if wanted and len(found) == 1 else None


_EXACT_INT = 2**53  # beyond it a number may be compared as a float on one side and not the other


def _plain_json(value: Any, depth: int = 0) -> bool:
    """Whether `value` is JSON both validators read alike: text, booleans, null, integers within
    ±2**53, finite numbers, lists, and mappings with text keys."""
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, int):
        return -_EXACT_INT <= value <= _EXACT_INT
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > 64:
        return False
    if isinstance(value, list):
        return all(_plain_json(item, depth + 1) for item in value)
    return isinstance(value, dict) and all(isinstance(k, str) and _plain_json(v, depth + 1) for k, v in value.items())


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """The same schema compiled by jsonschema-rs: it says in well under a millisecond whether a plan
    is valid, and imports in about 13 ms where jsonschema takes about 57 ms (benchmarks/README.md)."""
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(plan_schema(), validate_formats=False, offline=True)


def _surely_valid(data: Any) -> bool:
    """True when jsonschema-rs finds `data` valid; anything else (invalid, unusual values, an error
    in the fast validator) leaves the answer to jsonschema, which also words the problems."""
    if not _plain_json(data):
        return False
    try:
        return bool(_fast_validator().is_valid(data))
    except Exception:  # noqa: BLE001 - the fast validator only ever shortens the valid path
        return False


def schema_problems(doc: LoadedDocument) -> list[Problem]:
    """Every schema violation in `doc`, located and in words. A valid plan is recognised by
    jsonschema-rs without importing jsonschema; any other goes through jsonschema, whose errors are
    translated (tests/plan/test_schema_engines.py holds the two to the same answers)."""
    if _surely_valid(doc.data):
        return []
    translator = _Translator(doc)
    problems: list[Problem] = []
    for error in _validator().iter_errors(doc.data):
        problems.extend(translator.translate(error))
    return problems
