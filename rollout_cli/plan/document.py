"""Plans built in code: one writer for the demo, the tests and the benchmarks.

`plan_yaml(document)` dumps a plan document (the mapping docs/plan.md describes) as YAML:
block style for sections, flow style for short mappings and lists of plain values, keys in
the order given. `yaml_value(text)` reads a YAML fragment ("{confidence: 95%}", "[a, b]", a
path) into the value it stands for, so callers may give a section either as data or as the
words they would write in a plan. Safe loading and dumping only: plain data, no tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml


def yaml_value(fragment: Any) -> Any:
    """A YAML fragment as the value it denotes; anything that is not a string is returned as is."""
    return yaml.safe_load(fragment) if isinstance(fragment, str) else fragment


def plan_yaml(document: Mapping[str, Any]) -> str:
    """The plan `document` as YAML text, readable by `rollout plan validate` and people alike."""
    return yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=None, allow_unicode=True, width=120)
