"""Writing a file the user asked for, with a message a person understands when it cannot be done."""

from __future__ import annotations

import os
import stat
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


def check_target(target: Path, *, force: bool = True, option: str = "--out") -> None:
    """Refuse (UsageError, exit 2, before anything is written) what a written file must not take
    the place of: a symbolic link (it would be replaced, not followed), a folder, a pipe or a
    device; and an existing file unless `force`. Nothing there yet is fine."""
    try:
        info = target.lstat()
    except (FileNotFoundError, NotADirectoryError):  # nothing there, or a file where a folder should be
        return
    except OSError as error:
        raise UsageError(f"cannot write {target}: {error.strerror or error}") from None
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{option} {target} is a symbolic link; links are not followed, and nothing was written",
                         hint="give the path of the file itself, or remove the link")
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{option} {target} is a folder; give a file name")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{option} {target} is not a plain file (a pipe or a device?); nothing was written",
                         hint="give the path of a regular file")
    if not force:
        raise UsageError(f"{target} already exists; nothing was written", hint="pass --force to replace it")


@contextmanager
def replacing(target: Path, *, force: bool = True, option: str = "--out") -> Iterator[Path]:
    """A temporary path beside `target` to write into; renamed over `target` when the block ends
    well, removed when it fails — so a failed write never leaves a half file under the final name.

    Refuses (UsageError, exit 2, before anything is written) what `check_target` refuses, and a
    place that cannot be written.
    """
    check_target(target, force=force, option=option)
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
