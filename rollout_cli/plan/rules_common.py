"""What the semantic rules share: where to report, and tolerant reads of a document.

The rules run even when the schema found problems, so that one `plan validate` lists
everything. They therefore read the document defensively: a value of the wrong shape is
skipped here (the schema has already reported it), never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rollout_cli.plan.load import LoadedDocument, Problem, child_path

T = TypeVar("T")


@dataclass
class RuleContext:
    """The document under check and the problems found so far."""

    doc: LoadedDocument
    problems: list[Problem] = field(default_factory=list)

    def report(self, path: str, message: str, *, key: bool = False) -> None:
        loc = self.doc.locate(path, key=key)
        self.problems.append(Problem(self.doc.file, loc.line, loc.column, path, message))

    @property
    def root(self) -> dict[str, Any]:
        return as_mapping(self.doc.data)

    def section(self, name: str) -> dict[str, Any]:
        return as_mapping(self.root.get(name))


def as_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parsed(parse: Callable[[Any], T], value: Any) -> T | None:
    """`parse(value)`, or None when it does not parse (the schema reports that)."""
    try:
        return parse(value)
    except (ValueError, TypeError):
        return None


def metric_names(ctx: RuleContext) -> list[str]:
    return [str(name) for name in ctx.section("metrics")]


def metric_kind(ctx: RuleContext, name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    kind = as_mapping(ctx.section("metrics").get(name)).get("kind")
    return kind if isinstance(kind, str) else None


def counts_events(ctx: RuleContext, name: Any) -> bool:
    """True when the metric counts outcome events (user behaviour), which shadow answers never cause."""
    if not isinstance(name, str):
        return False
    return "event" in as_mapping(ctx.section("metrics").get(name))


def guard_lists(ctx: RuleContext) -> list[tuple[str, list[Any], int | None]]:
    """(path, guards, stage index or None for the plan's own) for every guard list."""
    lists: list[tuple[str, list[Any], int | None]] = [("$.guards", as_list(ctx.root.get("guards")), None)]
    for i, stage in enumerate(as_list(ctx.root.get("stages"))):
        stage = as_mapping(stage)
        if "guards" in stage:
            lists.append((child_path(f"$.stages[{i}]", "guards"), as_list(stage["guards"]), i))
    return lists


def leaves(value: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    """Every scalar of a document with its JSON path, in document order."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, child_path(path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, child_path(path, i))
    else:
        yield path, value
