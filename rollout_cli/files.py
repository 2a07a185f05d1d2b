"""Writing a file the user asked for, with a message a person understands when it cannot be done."""

from __future__ import annotations

from pathlib import Path

from rollout_cli.errors import UsageError
from rollout_cli.secrets import scrub


def write_text(target: Path, text: str) -> None:
    """Write `text` (UTF-8, every known secret scrubbed) to `target`, creating its folder;
    UsageError (exit 2) on failure."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(scrub(text), encoding="utf-8")
    except OSError as error:
        why = f"{error.filename} is a file, not a folder" if isinstance(error, FileExistsError) else error.strerror
        raise UsageError(f"cannot write {target}: {why or error}") from None


def display_path(source: str | Path) -> str:
    """The plan path as a person would type it here: relative to the current directory if inside it."""
    path = Path(source)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()
