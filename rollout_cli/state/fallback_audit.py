"""The audit trail of last resort: a rollback that ran while the state store could not be opened
or read still leaves a record — one JSON line appended to `emergency-audit.jsonl` in the state
folder, or beside it when the folder itself is unusable (a file in its place).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FILE_NAME = "emergency-audit.jsonl"


def append(directory: Path, record: dict[str, Any]) -> Path | None:
    """Append `record`; the file written, or None when neither place takes it."""
    line = json.dumps(record, default=str) + "\n"
    for target in (directory / FILE_NAME, directory.parent / f"{directory.name}-{FILE_NAME}"):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            return target
        except OSError:
            continue
    return None
