"""`runbook generate` and `runbook check`: the runbook file, written and compared.

Where the drill timings come from:
- with a state store (`--state-dir`, `$ROLLOUT_STATE_DIR`, or the plan's own, found from the plan by
  state/location.py, when it exists),
  the last passing drill of the plan's *current* rollback section;
- with none, the runbook says "No drill on record" — so a runbook generated without state is a
  pure function of the plan and the router adapter.
`check` without a state store (as in CI, where drills are not on record) cannot contradict the
drill block already in the file, so it keeps that block when the block names the plan's current
rollback digest; a block measured against another rollback section is stale.
"""

from __future__ import annotations

import difflib
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rollout_cli.errors import UsageError
from rollout_cli.files import display_path, write_text
from rollout_cli.plan.model import Plan
from rollout_cli.routers.base import BASELINE_ONLY
from rollout_cli.runbook.content import DRILL_BEGIN, DRILL_END, render_runbook
from rollout_cli.state.drills import DrillEvents, DrillRecord, drills_on_record, last_passing_drill

DIFF_LINES_SHOWN = 60
MAX_RUNBOOK_BYTES = 1_000_000  # a runbook is a few kilobytes


def plan_files(paths: list[Path]) -> list[Path]:
    """The plans named by `paths`: files as given, folders searched for *.yaml / *.yml (hidden
    folders skipped), in a stable order. UsageError for a path that does not exist, and for a
    link in a folder to a file outside it (`check` runs on untrusted pull requests)."""
    from rollout_cli.plan.validate_files import folder_plans, link_out_of

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = folder_plans(path)
            if not found:
                raise UsageError(f"{path} holds no plan (*.yaml, *.yml)")
            for plan in found:
                refusal = link_out_of(path, plan)
                if refusal:
                    raise UsageError(f"{plan} {refusal}")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise UsageError(f"{path} does not exist")
    return files


def default_output(plan: Plan) -> Path:
    return Path("runbooks") / f"{plan.name}.md"


def existing_store(plan: Plan, state_dir: str | Path | None) -> DrillEvents | None:
    """The plan's state store if one exists (found from the plan: state/location.py); never creates
    one (generating a runbook must not leave state)."""
    from rollout_cli.state.locate import existing_store as find

    return find(state_dir, plan)


def manual_commands(plan: Plan) -> list[str]:
    """The adapter's own commands for "baseline only". Building a router contacts nothing."""
    from rollout_cli.routers.registry import router_for

    return list(router_for(plan.router.adapter, plan.router.options).explain(BASELINE_ONLY))


def last_drill(plan: Plan, store: DrillEvents | None) -> DrillRecord | None:
    if store is None:
        return None
    return last_passing_drill(drills_on_record(store, plan.name), plan.rollback.digest)


def repository_path(plan_path: str | Path) -> str:
    """The plan's path from its repository root (state/location.py): the same from any directory, so
    the runbook's bytes do not depend on where `generate` ran."""
    from rollout_cli.state.location import plan_root

    resolved = Path(plan_path).resolve()
    try:
        return resolved.relative_to(plan_root(resolved)).as_posix()
    except ValueError:
        return display_path(plan_path)


def build_runbook(plan: Plan, plan_path: str | Path, store: DrillEvents | None) -> str:
    """The runbook text generate would write for `plan` now."""
    return render_runbook(plan, repository_path(plan_path), manual_commands(plan), last_drill(plan, store))


def read_runbook(target: Path) -> str | None:
    """The runbook as written (undecodable bytes replaced), or None when there is none.

    UsageError for anything but a plain file: `check` runs on untrusted pull requests and
    prints what differs, so a runbook linked to a file elsewhere (a key) would print that file,
    and `generate` would overwrite it; a pipe or a device would never end."""
    try:
        info = target.lstat()
    except (FileNotFoundError, NotADirectoryError):  # nothing there, or a file where a folder should be
        return None
    except OSError as error:
        raise UsageError(f"cannot read {target}: {error.strerror or error}") from None
    fix = f"remove {target} and run `rollout runbook generate` again"
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{target} is a symbolic link; a runbook is a plain file, and links are not followed", hint=fix)
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{target} is a folder, not a runbook file", hint="-o takes the runbook file's path, e.g. -o runbooks/NAME.md")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{target} is not a plain file (a pipe or a device?)", hint=fix)
    if info.st_size > MAX_RUNBOOK_BYTES:
        raise UsageError(f"{target} is {info.st_size} bytes; a runbook is at most {MAX_RUNBOOK_BYTES}", hint=fix)
    try:
        return target.read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        raise UsageError(f"cannot read {target}: {error.strerror or error}") from None


def generate(plan: Plan, plan_path: str | Path, out: Path | None, store: DrillEvents | None) -> Path:
    """Write the runbook (only when its content changed, so mtimes mean something) and return its path."""
    target = out or default_output(plan)
    text = build_runbook(plan, plan_path, store)
    if read_runbook(target) != text:
        write_text(target, text)
    return target


@dataclass(frozen=True)
class RunbookCheck:
    path: Path
    status: Literal["current", "missing", "stale"]
    diff: tuple[str, ...]  # unified diff, file as written -> as generate would write it
    added: int
    removed: int

    @property
    def ok(self) -> bool:
        return self.status == "current"


def _drill_block(text: str) -> str | None:
    start, end = text.find(DRILL_BEGIN), text.find(DRILL_END)
    return text[start : end + len(DRILL_END)] if 0 <= start < end else None


def _keep_recorded_drill(expected: str, written: str, digest: str) -> str:
    """`expected` with the file's own drill block, when that block is a drill of this rollback section."""
    mine, theirs = _drill_block(expected), _drill_block(written)
    if mine is None or theirs is None or f"(rollback section `{digest}`)" not in theirs:
        return expected
    return expected.replace(mine, theirs)


def check(plan: Plan, plan_path: str | Path, out: Path | None, store: DrillEvents | None) -> RunbookCheck:
    """Compare the runbook on disk with what `generate` would write now."""
    target = out or default_output(plan)
    expected = build_runbook(plan, plan_path, store)
    written = read_runbook(target)
    if written is None:
        return RunbookCheck(target, "missing", (), expected.count("\n"), 0)
    if store is None:
        expected = _keep_recorded_drill(expected, written, plan.rollback.digest)
    if written == expected:
        return RunbookCheck(target, "current", (), 0, 0)
    diff = tuple(
        line.rstrip("\n")
        for line in difflib.unified_diff(
            written.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{target.as_posix()} (as written)",
            tofile=f"{target.as_posix()} (as generate would write it)",
            n=1,
        )
    )
    body = [line for line in diff if not line.startswith(("+++", "---"))]
    added = sum(1 for line in body if line.startswith("+"))
    removed = sum(1 for line in body if line.startswith("-"))
    return RunbookCheck(target, "stale", diff, added, removed)


def regenerate_command(plan_path: str | Path, out: Path | None, state_dir: str | Path | None) -> str:
    command = f"rollout runbook generate {display_path(plan_path)}"
    if out is not None:
        command += f" -o {out.as_posix()}"
    if state_dir is not None:
        where = str(state_dir) if str(state_dir).startswith("postgres") else Path(state_dir).as_posix()
        command += f" --state-dir {where}"
    return command
