"""A log file's identity: what says "this is still the file whose rows are in the cache".

Path, size and modification time catch appends, truncations and most rewrites; a hash of the
first and last 64 KiB also catches a rewrite of the same size that kept (or restored) the
modification time, which copying tools do (`cp -p`, rsync). A parquet file's footer — its
schema, row groups and their statistics — sits in its last bytes, so a change of content almost
always changes the tail.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

EDGE_BYTES = 64 * 1024


@dataclass(frozen=True)
class FileId:
    path: str
    size: int
    mtime_ns: int
    edges: str  # sha256 of the first and last EDGE_BYTES


def file_id(path: str) -> FileId:
    """The identity of the file at `path` (read: at most 128 KiB)."""
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        digest = hashlib.sha256(handle.read(EDGE_BYTES))
        if stat.st_size > EDGE_BYTES:
            handle.seek(max(EDGE_BYTES, stat.st_size - EDGE_BYTES))
            digest.update(handle.read(EDGE_BYTES))
    return FileId(path, stat.st_size, stat.st_mtime_ns, digest.hexdigest())
