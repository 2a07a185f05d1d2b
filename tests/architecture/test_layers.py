"""The package's layers (docs/architecture.md): data flows one way, and no package imports a higher one.

An AST walk over every module, imports inside functions and `TYPE_CHECKING` blocks included:
a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rollout_cli

PACKAGE = Path(rollout_cli.__file__).parent

# Lowest first. A module may import its own layer and any layer below it, never one above.
LAYERS: list[set[str]] = [
    {"errors"},
    {"secrets", "files", "units", "inert"},
    {"routers"},
    {"plan"},
    {"data", "stats", "logcache"},
    {"drift"},
    {"evaluation", "state", "shadow"},  # evaluation uses shadow for paired guards; never the reverse
    {"notify", "exporter"},
    {"transitions"},
    {"runbook"},
    {"export", "report"},
    {"sim", "planning"},
    {"cli", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> set[str]:
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("rollout_cli.")}


def _edges() -> list[tuple[str, str, str]]:
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _top(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for target in _imports(path):
            if _top(target) != source:
                edges.append((str(path.relative_to(PACKAGE.parent)), source, _top(target)))
    return edges


def test_every_package_has_a_layer() -> None:
    names = {_top(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)) for p in PACKAGE.rglob("*.py")}
    assert names - {"", "__init__"} <= set(RANK), f"give {sorted(names - set(RANK) - {'', '__init__'})} a layer"


def test_no_module_imports_a_higher_layer() -> None:
    upward = [f"{path} imports rollout_cli.{target}" for path, source, target in _edges()
              if target and source in RANK and target in RANK and RANK[target] > RANK[source]]
    assert upward == []


def test_packages_on_one_layer_do_not_import_each_other_both_ways() -> None:
    pairs = {(source, target) for _, source, target in _edges() if target}
    assert {(a, b) for a, b in pairs if (b, a) in pairs} == set()
