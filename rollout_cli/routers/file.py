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
- a file that is not a JSON object is replaced by `apply` (a rollback must be able to win over
  a corrupted file); its keys cannot be kept because none can be read.
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

    def _document(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RouterError(
                f"router file {self.path} does not exist",
                hint=f"`rollout start` creates it; or write {{\"candidate_traffic\": 0.0, \"shadow\": 0.0}} into {self.path}",
            ) from None
        except OSError as error:
            raise RouterError(f"router file {self.path} cannot be read: {error.strerror}") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise RouterError(
                f"router file {self.path} is not valid JSON ({error.msg} at line {error.lineno})",
                hint=f"write {{\"candidate_traffic\": 0.0, \"shadow\": 0.0}} into {self.path} to serve the baseline only",
            ) from None
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
        if not self.path.exists():
            where = "" if self.path.is_absolute() else f" in {Path.cwd()} (a relative path starts at the working directory)"
            raise RouterError(
                f"router file {self.path} does not exist{where}: no serving system reads it, so it is not created",
                hint="run from the folder the rollout was started in, or write the split into the serving system's file by hand",
            )
        try:
            document = self._document()
        except RouterError:
            if not self.path.is_file():
                raise RouterError(f"router file {self.path} is not a regular file") from None
            document = {}  # unreadable: replaced by the split alone (a rollback must win)
        try:
            if splits_match(self._split_in(document), split):
                return
        except RouterError:  # a malformed split in the file is overwritten by the one asked for
            pass
        document.update(candidate_traffic=float(split.candidate_traffic), shadow=float(split.shadow))
        self._write(document)

    def _write(self, document: dict[str, Any]) -> None:
        try:
            write_atomically(self.path, json.dumps(document, indent=2) + "\n")
        except OSError as error:
            raise RouterError(
                f"cannot write router file {self.path}: {error.strerror or error}",
                hint=f"check the folder {self.path.parent} exists and is writable",
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
        script = (
            "import json,os,sys; p=sys.argv[1]; d=json.load(open(p)); "
            f"d.update(candidate_traffic={float(split.candidate_traffic)!r}, shadow={float(split.shadow)!r}); "
            "open(p+'.tmp','w').write(json.dumps(d, indent=2)); os.replace(p+'.tmp', p)"
        )
        return [
            f"python3 -c {shlex.quote(script)} {path}",
            f"cat {path}  # expect \"candidate_traffic\": {float(split.candidate_traffic)!r}, \"shadow\": {float(split.shadow)!r}",
        ]
