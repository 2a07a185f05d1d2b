"""Writing a file the user asked for, with a message a person understands when it cannot be done."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def replacing(target: Path, *, force: bool = True, option: str = "--out") -> Iterator[Path]:
    """A temporary path beside `target` to write into; renamed over `target` when the block ends
    well, removed when it fails — so a failed write never leaves a half file under the final name.

    Refuses (UsageError, exit 2, before anything is written) a folder, an existing file unless
    `force`, and a place that cannot be written.
    """
    if target.is_dir():
        raise UsageError(f"{option} {target} is a folder; give a file name")
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; nothing was written", hint="pass --force to replace it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        os.close(handle)
    except OSError as error:
        why = f"{error.filename} is a file, not a folder" if isinstance(error, FileExistsError) else error.strerror
        raise UsageError(f"cannot write {target}: {why or error}") from None
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; a written file gets the usual mode
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"cannot write {target}: {error.strerror or error}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
