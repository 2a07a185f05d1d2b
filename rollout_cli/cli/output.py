"""Where command output goes: rich for people on stdout, one JSON document for machines."""

from __future__ import annotations

import json
import sys
from typing import Any

from rollout_cli.inert import terminal
from rollout_cli.secrets import scrub_value


def _inert_console(**options: Any) -> Any:
    """A console on which no string from a plan or a log can act on the terminal: control
    characters (an ANSI/OSC sequence that clears the screen or sets the title) are shown as
    escapes (rollout_cli/inert.py), in the text before layout and again in the rendered segments,
    so no print call, table cell or markup=False line can forget it. Only rich's own styling and
    control segments reach the terminal as codes."""
    from rich.console import Console
    from rich.segment import Segment

    class InertConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(terminal(text), **kwargs)

        def _render_buffer(self, buffer: Any) -> str:
            return super()._render_buffer(
                segment if segment.control else Segment(terminal(segment.text), segment.style, segment.control)
                for segment in buffer
            )

    return InertConsole(highlight=False, **options)


_CONSOLES: dict[str, dict[str, Any]] = {"console": {}, "err_console": {"stderr": True}}


def __getattr__(name: str) -> Any:
    """`console` and `err_console`, made on first use: importing rich costs ~22 ms that a `--json`
    line, whose stdout is one JSON document, never needs."""
    if name not in _CONSOLES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    made = globals()[name] = _inert_console(**_CONSOLES[name])
    return made


def print_json(doc: Any) -> None:
    """The whole of stdout under --json: one document, nothing else."""
    # scrubbed before dumping: the stream's scrub would miss a secret that JSON escapes
    sys.stdout.write(json.dumps(scrub_value(doc), indent=2, default=str) + "\n")
    sys.stdout.flush()


OUTCOME_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}


def styled_outcome(outcome: str) -> str:
    return f"[{OUTCOME_STYLE.get(outcome, 'bold')}]{outcome}[/]"
