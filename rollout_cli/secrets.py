"""Secrets appear in plans only as `${env:NAME}` references, resolved at the last moment and
scrubbed from everything the tool prints, logs or records.

One scrubbing path (docs/operations.md, "Secrets"): every secret value the process learns — a
plan's `${env:…}` references, as soon as a command opens the plan, and every value `resolve`
returns — is remembered here, and `scrub` / `scrub_value` replace all of them wherever the tool
writes: stdout and stderr (the CLI wraps both streams), the JSON documents, the audit trail and
the transition journal, runbooks and drill records, webhook bodies. Text is scrubbed before it is
cut to length, so a secret straddling the cut cannot leak its tail. Values shorter than
`MIN_SECRET_CHARS` are not scrubbed: replacing "1" or "ab" everywhere would mangle every output.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import quote, quote_plus

from rollout_cli.errors import UsageError

# The one spelling of a reference; group 1 is the variable's name.
ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_ANY_REF = re.compile(r"\$\{[^}]*\}?")
REDACTED = "***"
MIN_SECRET_CHARS = 4

_known: set[str] = set()  # every secret value this process has seen, scrubbed from every output
_ordered: list[str] = []  # _known, longest first: a secret containing another is scrubbed whole


def spellings(value: str) -> set[str]:
    """`value` as libraries write it back into messages: stripped (a secret file's trailing newline),
    escaped inside a repr or a JSON string, percent-encoded in a URL."""
    forms = {form for v in {value, value.strip()} for form in (
        v, repr(v)[1:-1], json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1], quote(v), quote(v, safe=""),
        quote_plus(v))}
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


def remember(value: str) -> None:
    """Scrub `value`, in each of its spellings, from every output of this process from now on (when
    it is long enough)."""
    global _ordered
    new = spellings(value) - _known if len(value) >= MIN_SECRET_CHARS else set()
    if new:
        _known.update(new)
        _ordered = sorted(_known, key=len, reverse=True)


def remember_references(templates: list[str] | None) -> None:
    """Remember the current values of every variable referenced in `templates`."""
    for template in templates or []:
        for name in env_references(template):
            secret = os.environ.get(name)
            if secret:
                remember(secret)


def scrub(text: str) -> str:
    """`text` with every remembered secret replaced by ***."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub_value(value: Any) -> Any:
    """Plain data (strings, lists, mappings, numbers) with every remembered secret scrubbed from
    its strings and keys; walked, not round-tripped through JSON, so a secret holding a quote or a
    backslash is found as it is."""
    if not _ordered:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_value(k): scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_value(v) for v in value]
    return value


def scrub_then_cut(text: str, limit: int, *, keep: str = "tail") -> str:
    """Scrub, then keep at most `limit` characters (the tail, or the head): in that order, so a
    secret cut in half is still recognised and replaced."""
    text = scrub(text)
    if len(text) <= limit:
        return text
    return text[-limit:] if keep == "tail" else text[:limit]


def env_references(text: str) -> list[str]:
    """The variable names referenced in `text`."""
    return ENV_REFERENCE.findall(text)


def is_reference(text: str) -> bool:
    """True when `text` is exactly one `${env:NAME}` reference and nothing else."""
    return ENV_REFERENCE.fullmatch(text) is not None


def malformed_references(text: str) -> list[str]:
    """`${…}` fragments in `text` that are not well-formed `${env:NAME}` references."""
    return [m.group(0) for m in _ANY_REF.finditer(text) if not ENV_REFERENCE.fullmatch(m.group(0))]


def resolve(text: str) -> str:
    """`text` with every `${env:NAME}` replaced by its value. Raises UsageError if unset."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise UsageError(f"environment variable {name} is not set (referenced as ${{env:{name}}})")
        remember(os.environ[name])
        return os.environ[name]

    return ENV_REFERENCE.sub(value, text)


def redact(text: str, references: list[str] | None = None) -> str:
    """`text` scrubbed of every remembered secret, after remembering the values of the
    variables `references` name (the templates a value was resolved from)."""
    remember_references(references)
    return scrub(text)


class ScrubbedStream:
    """A text stream that scrubs every remembered secret from what is written to it; the CLI puts
    one in front of stdout and stderr, so no print path can forget to. A secret is caught when it
    arrives within one write (rich and the JSON printer write whole renders)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(scrub(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, …
        return getattr(self.stream, name)
