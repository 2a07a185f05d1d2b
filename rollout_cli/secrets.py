"""Secrets appear in plans only as `${env:NAME}` references, resolved at the last moment and
redacted from everything the tool prints, logs or records."""

from __future__ import annotations

import os
import re

from rollout_cli.errors import UsageError

# The one spelling of a reference; group 1 is the variable's name.
ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_ANY_REF = re.compile(r"\$\{[^}]*\}?")
REDACTED = "***"


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
        return os.environ[name]

    return ENV_REFERENCE.sub(value, text)


def redact(text: str, references: list[str] | None = None) -> str:
    """`text` with the values of referenced environment variables replaced by ***.

    With no `references`, every variable the text itself names stays a reference (it was never
    resolved); pass the templates a value was resolved from to scrub their values.
    """
    secrets = set()
    for template in references or []:
        for name in env_references(template):
            secret = os.environ.get(name)
            if secret and len(secret) >= 4:  # scrubbing "1" or "" would mangle everything
                secrets.add(secret)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
