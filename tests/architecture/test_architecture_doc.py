"""docs/architecture.md names the same layers, in the same order, as the import test enforces."""

from __future__ import annotations

import re
from pathlib import Path

from test_layers import LAYERS

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_the_layer_table_matches_the_enforced_layers() -> None:
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    documented = [set(re.findall(r"`([a-z_]+)`", packages)) for _, packages in rows]
    assert [int(number) for number, _ in rows] == list(range(len(LAYERS)))
    assert documented == LAYERS


def test_the_readme_links_the_architecture_page() -> None:
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in readme
