"""The `file` router (docs/routers.md#file): the split kept in a JSON file that a serving system reads.

    {"candidate_traffic": 5.0, "shadow": 100.0, ...other keys kept as they are}

Choices:
- a missing file is an error on read and on apply (RouterError), never "baseline only": a router
  that cannot be read cannot be verified, and a file written where none was (a rollback run
  from another working directory, say) would verify a split that no serving system reads.
  Only `prepare()`, which `rollout start` calls, creates it (and its folder), baseline only.
- writes are atomic: a temporary file in the same folder, fsync, os.replace, fsync of the
  folder — a reader sees the old split or the new one, never half a file.
- `apply` of the split already in the file writes nothing (idempotent, mtime unchanged).
- a file that is not a JSON object — binary junk, another encoding, a JSON list — is replaced by
  `apply` (a rollback must be able to win over a corrupted file); its keys cannot be kept because
  none can be read. Reading one is a RouterError, never a crash.
- a symbolic link is followed: the serving system reads the link's target, so the target is
  what `apply` replaces (atomically, in the target's folder) and what `verify` reads back.
  Replacing the link itself would leave the served file unchanged and "verify" the new one.
  A link that leads nowhere (a loop, a missing target) is a RouterError.
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rollout_cli.errors import RouterError
from rollout_cli.routers.base import RouterSplit, ensure_split_in_range, splits_match
from rollout_cli.routers.options import AdapterOptions


def _share(document: dict[str, Any], key: str, path: Path) -> float:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RouterError(
            f"router file {path} has no numeric {key!r} (found {value!r})",
            hint=f"write the split by hand: {{\"candidate_traffic\": 0.0, \"shadow\": 0.0}} into {path}",
        )
    if not 0 <= value <= 100:
        raise RouterError(f"router file {path}: {key} {value} is outside 0..100 percent")
    return float(value)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers see either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


class FileRouter:
    """Keeps the split in a JSON file. Options: {path}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> FileRouter:
        with AdapterOptions("file", options, known=("path",), example="{path: router.json}") as opts:
            router = cls(Path(opts.text("path")))
        return router

    def _target(self) -> Path:
        """The file the serving system reads: the path, or where its symbolic link(s) lead."""
        if not self.path.is_symlink():
            return self.path
        try:
            return self.path.resolve(strict=True)
        except (OSError, RuntimeError):  # RuntimeError: a link loop, before Python 3.13
            raise RouterError(
                f"router file {self.path} is a symbolic link that leads nowhere (a loop, or a missing file)",
                hint=f"point {self.path} at the file the serving system reads, or replace it with that file",
            ) from None

    def _document(self) -> dict[str, Any]:
        try:
            raw = self._target().read_bytes()
        except FileNotFoundError:
            raise RouterError(
                f"router file {self.path} does not exist",
                hint=f"`rollout start` creates it; or write {{\"candidate_traffic\": 0.0, \"shadow\": 0.0}} into {self.path}",
            ) from None
        except OSError as error:
            raise RouterError(f"router file {self.path} cannot be read: {error.strerror}") from None
        hint = f"write {{\"candidate_traffic\": 0.0, \"shadow\": 0.0}} into {self.path} to serve the baseline only"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RouterError(
                f"router file {self.path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})",
                hint=hint,
            ) from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise RouterError(
                f"router file {self.path} is not valid JSON ({error.msg} at line {error.lineno})", hint=hint
            ) from None
        except RecursionError:  # "[[[[…" nested past Python's stack
            raise RouterError(f"router file {self.path} is not a JSON object (nested too deeply)", hint=hint) from None
        if not isinstance(document, dict):
            raise RouterError(f"router file {self.path} holds a JSON {type(document).__name__}, not an object")
        return document

    def read(self) -> RouterSplit:
        return self._split_in(self._document())

    def prepare(self) -> None:
        """Create the file serving the baseline alone, unless it exists (`rollout start`)."""
        if not self.path.exists():
            self._write({"candidate_traffic": 0.0, "shadow": 0.0})

    def apply(self, split: RouterSplit) -> None:
        ensure_split_in_range(split)
        target = self._target()
        if not target.exists():
            where = "" if self.path.is_absolute() else f" in {Path.cwd()} (a relative path starts at the working directory)"
            raise RouterError(
                f"router file {self.path} does not exist{where}: no serving system reads it, so it is not created",
                hint="run from the folder the rollout was started in, or write the split into the serving system's file by hand",
            )
        try:
            document = self._document()
        except RouterError:
            if not target.is_file():
                raise RouterError(f"router file {self.path} is not a regular file (a folder?)") from None
            document = {}  # unreadable: replaced by the split alone (a rollback must win)
        try:
            if splits_match(self._split_in(document), split):
                return
        except RouterError:  # a malformed split in the file is overwritten by the one asked for
            pass
        document.update(candidate_traffic=float(split.candidate_traffic), shadow=float(split.shadow))
        self._write(document, target)

    def _write(self, document: dict[str, Any], target: Path | None = None) -> None:
        target = target or self.path
        try:
            write_atomically(target, json.dumps(document, indent=2) + "\n")
        except OSError as error:
            raise RouterError(
                f"cannot write router file {target}: {error.strerror or error}",
                hint=f"check the folder {target.parent} exists and is writable",
            ) from None

    def _split_in(self, document: dict[str, Any]) -> RouterSplit:
        return RouterSplit(
            candidate_traffic=_share(document, "candidate_traffic", self.path),
            shadow=_share(document, "shadow", self.path),
        )

    def verify(self, split: RouterSplit) -> bool:
        return splits_match(self.read(), split)

    def explain(self, split: RouterSplit) -> list[str]:
        path = shlex.quote(str(self.path))
        # realpath: through a symbolic link, replace the file the serving system reads; a file
        # that is not a JSON object (corrupted) is replaced by the split alone.
        script = (
            "import json,os,sys; p=os.path.realpath(sys.argv[1]); t=open(p,'rb').read().decode('utf-8','replace'); "
            "d=json.loads(t) if t.strip().startswith('{') and t.strip().endswith('}') else {}; "
            f"d.update(candidate_traffic={float(split.candidate_traffic)!r}, shadow={float(split.shadow)!r}); "
            "open(p+'.tmp','w').write(json.dumps(d, indent=2)); os.replace(p+'.tmp', p)"
        )
        return [
            f"python3 -c {shlex.quote(script)} {path}",
            f"cat {path}  # expect \"candidate_traffic\": {float(split.candidate_traffic)!r}, \"shadow\": {float(split.shadow)!r}",
        ]
