"""Text from a plan or a log, rendered inert for the medium it is written to.

Plans arrive on pull requests and logs come from production, so any of their strings — a
description, a contact, `--as`/`--reason`, a router's answer — may hold escape sequences,
Markdown structure or HTML meant to do more than be read. One helper per medium, used wherever
such a string reaches it (docs/operations.md, "Untrusted text"):

- `terminal(text)`: control characters (C0 but tab and newline, DEL, C1, and the bidirectional
  overrides that reorder what a reader sees) become visible escapes such as `\\x1b`; an ANSI/OSC
  sequence then prints as text instead of clearing the screen or setting the window title.
  Markup of the terminal library (rich's `[bold]`) is the caller's to escape on top.
- `markdown(text)`: `terminal`, then every character that starts Markdown structure is
  backslash-escaped (headings, lists, emphasis, links, tables, HTML, code spans), so a value
  renders as the text it is, on one paragraph; `markdown_code` and `markdown_block` delimit code
  with more backticks than the content holds, so no value can close the span or the fence.
- `html(text)`: `terminal`, then HTML-escaped (quotes included: safe in attributes too).
"""

from __future__ import annotations

import html as _html
import re

# C0 controls except \t and \n, DEL, C1 controls, and the Unicode bidi controls (Trojan Source).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NEWLINES = re.compile(r"[\t\n]")
# Characters that can start or delimit Markdown structure anywhere on a line.
_MD_ANYWHERE = re.compile(r"([\\`*_\[\]<>|~&])")
# Line starts that make a block: headings, lists ("- ", "+ ", "1. ", "1) "), quotes, setext underlines.
_MD_LINE_START = re.compile(r"^(\s*)([-+=>]|#+(?=\s|$)|\d+[.)])", re.MULTILINE)
_BACKTICKS = re.compile(r"`+")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str, *, one_line: bool = False) -> str:
    """`text` with every control character shown as an escape; with `one_line`, tabs and
    newlines too (a value that must not start a fake line of output)."""
    text = _CONTROL.sub(_visible, str(text))
    return _NEWLINES.sub(_visible, text) if one_line else text


def markdown(text: str) -> str:
    """`text` as inline Markdown that renders as exactly its characters, on one paragraph:
    newlines become spaces, so a value cannot start a heading, a list or a fence."""
    text = " ".join(terminal(text).split("\n"))
    text = _MD_ANYWHERE.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_code(text: str) -> str:
    """`text` as an inline code span: delimited by more backticks than any run inside, on one
    line (a newline inside a span could still start a heading or a fence)."""
    body = terminal(text, one_line=True)
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def markdown_block(text: str, info: str = "") -> list[str]:
    """Lines of a fenced code block holding `text` verbatim (control characters shown as
    escapes): the fence is longer than any run of backticks inside, so none can close it."""
    body = terminal(text)
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *body.split("\n"), fence]


def html(text: str) -> str:
    """`text` safe as HTML element content or attribute value."""
    return _html.escape(terminal(text), quote=True)
