"""`plan validate` over files and folders: which files, and every problem of each."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rollout_cli.plan.load import LoadError, Problem, load_plan_file
from rollout_cli.plan.validate import validate_document

PLAN_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class FileReport:
    """The outcome for one file (or for a path that named no plan at all)."""

    path: str
    problems: tuple[Problem, ...]

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "valid": self.valid, "errors": [p.to_json() for p in self.problems]}


def _problem(path: str, message: str) -> FileReport:
    return FileReport(path, (Problem(path, 1, 1, "$", message),))


def folder_plans(folder: Path) -> list[Path]:
    """YAML files under `folder`, recursively, in a stable order; hidden folders (.git, …) and
    linked folders are not entered."""
    found: list[Path] = []
    for parent, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found.extend(Path(parent) / name for name in files if name.endswith(PLAN_SUFFIXES))
    return sorted(found)


def link_out_of(folder: Path, plan: Path) -> str | None:
    """Why `plan`, found in `folder`, must not be read, or None: a symbolic link that leaves the
    folder could make a pull request's "plan" any file of the machine running the check (a key,
    a credentials file), and error messages quote what they read."""
    if not plan.is_symlink():
        return None
    try:
        target = plan.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a link loop, before Python 3.13
        return "is a symbolic link that leads nowhere (a loop, or a missing file)"
    if target.is_relative_to(folder.resolve()):
        return None
    return f"is a symbolic link to a file outside {folder}; plans found in a folder must live in it"


def validate_file(path: Path) -> FileReport:
    """Load and validate one plan file; never raises, whatever the file holds.

    A fault of our own on one file must not cost the other files their reports (CI
    annotations, the JSON document), so it becomes that file's one problem instead."""
    name = str(path)
    try:
        doc = load_plan_file(path)
        return FileReport(name, tuple(validate_document(doc)))
    except LoadError as error:
        return FileReport(name, (error.problem,))
    except (Exception, RecursionError, MemoryError) as error:  # noqa: BLE001 - reported per file
        return _problem(name, f"internal error while checking this file: {type(error).__name__}: {error}"[:500])


def validate_paths(paths: Iterable[str | Path]) -> list[FileReport]:
    """One report per plan file named by `paths` (files, or folders searched for *.yaml/*.yml)."""
    reports: list[FileReport] = []
    for given in paths:
        path = Path(given)
        if path.is_symlink() and not path.exists():
            reports.append(_problem(str(path), "is a symbolic link that leads nowhere (a loop, or a missing file)"))
        elif path.is_dir():
            plans = folder_plans(path)
            if not plans:
                reports.append(_problem(str(path), "no plan files (*.yaml, *.yml) in this folder"))
            for plan in plans:
                refusal = link_out_of(path, plan)
                reports.append(_problem(str(plan), refusal) if refusal else validate_file(plan))
        elif path.exists():
            reports.append(validate_file(path))
        else:
            reports.append(_problem(str(path), "no such file or folder"))
    return reports
