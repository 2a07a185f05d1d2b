"""Where command output goes: rich for people on stdout, one JSON document for machines."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json(doc: Any) -> None:
    """The whole of stdout under --json: one document, nothing else."""
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    sys.stdout.flush()


OUTCOME_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}


def styled_outcome(outcome: str) -> str:
    return f"[{OUTCOME_STYLE.get(outcome, 'bold')}]{outcome}[/]"
