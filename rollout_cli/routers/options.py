"""Reading a plan's `router.options` for one adapter, with messages that say what to write.

Every adapter validates its options when it is built (`from_options`), before it touches
anything, so a typo in a plan is a plan error (exit 2) rather than a router failure at 3am.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Self

from rollout_cli.errors import PlanError
from rollout_cli.secrets import is_reference, malformed_references
from rollout_cli.units import parse_duration


class OptionsError(PlanError):
    """Every problem with one adapter's options (`messages`), reported together."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class AdapterOptions:
    """The options of one adapter, read inside `with`: each getter notes a problem (naming the
    option and the fix) and returns a stand-in, and leaving the block raises OptionsError with
    all of them, so `plan validate` lists every mistake at once.

        with AdapterOptions("file", options, known=("path",), example="{path: router.json}") as opts:
            router = FileRouter(Path(opts.text("path")))
    """

    def __init__(self, adapter: str, options: Mapping[str, Any], known: tuple[str, ...], example: str) -> None:
        self.adapter = adapter
        self.options = dict(options or {})
        self.example = example
        self.problems: list[str] = []
        self._misspelt: set[str] = set()  # known options written with a typo: reported once, as the typo
        unknown = sorted(set(self.options) - set(known))
        if len(unknown) == 1 and (near := difflib.get_close_matches(unknown[0], known, n=1)):
            self._misspelt.add(near[0])
            self.problems.append(f"{adapter} router: unknown option {unknown[0]} (did you mean {near[0]}?)")
        elif unknown:
            self.problems.append(f"{adapter} router: unknown option{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(unknown)} (known: {', '.join(known)})")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None and self.problems:
            raise OptionsError(self.problems)

    def problem(self, text: str) -> None:
        """Note a problem of this adapter's options, with an example of good ones."""
        self.problems.append(f"{self.adapter} router: {text} (e.g. options: {self.example})")

    def text(self, key: str, default: str | None = None) -> str:
        """A required (or defaulted) non-empty string option ("" stands in for a bad one)."""
        value = self.options.get(key, default)
        if value is None:
            if key not in self._misspelt:
                self.problem(f"option {key} is required")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(f"option {key} must be a non-empty string, not {value!r}")
            return ""
        return value

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if self.options.get(key) is not None else None

    def seconds(self, key: str, default: float) -> float:
        """A duration option: 5, 0.5 or "2s"."""
        value = self.options.get(key, default)
        try:
            seconds = parse_duration(value)
        except ValueError as error:
            self.problem(f"option {key}: {error}")
            return default
        if seconds <= 0:
            self.problem(f"option {key} must be more than 0 seconds")
            return default
        return seconds

    def count(self, key: str, default: int, *, maximum: int) -> int:
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            self.problem(f"option {key} must be a whole number from 0 to {maximum}, not {value!r}")
            return default
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.options.get(key, choices[0])
        if value not in choices:
            self.problem(f"option {key} must be one of {', '.join(choices)}, not {value!r}")
            return choices[0]
        return str(value)

    def address(self, key: str) -> str:
        """host:port (or unix:/path) of a backend server."""
        value = self.text(key)
        if value and not value.startswith("unix:"):
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit():
                self.problem(f"option {key} must be host:port or unix:/path, not {value!r}")
        return value

    def secret_reference(self, key: str) -> str | None:
        """An optional secret, which a plan may only hold as a ${env:NAME} reference."""
        value = self.options.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not is_reference(value):
            self.problems.append(f"{self.adapter} router: option {key} must be a ${{env:NAME}} reference, "
                                 "never the secret itself (e.g. token: ${env:ROUTER_TOKEN})")
            return None
        return value

    def url(self, key: str) -> str:
        value = self.text(key)
        if not value:
            return value
        bad = malformed_references(value)
        if bad:
            self.problem(f"option {key} has a malformed reference {bad[0]}")
        elif not value.startswith(("http://", "https://", "${env:")):
            self.problem(f"option {key} must be an http:// or https:// URL, not {value!r}")
        return value
