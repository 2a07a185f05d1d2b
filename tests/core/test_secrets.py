from __future__ import annotations

import pytest

from rollout_cli.errors import UsageError
from rollout_cli.secrets import env_references, malformed_references, redact, resolve


def test_references_are_found_and_checked() -> None:
    assert env_references("https://x/${env:HOOK}?t=${env:TOKEN_2}") == ["HOOK", "TOKEN_2"]
    assert malformed_references("${env:OK} ${ENV:no} ${env:} ${env:bad-name} ${env:unclosed") == [
        "${ENV:no}",
        "${env:}",
        "${env:bad-name}",
        "${env:unclosed",
    ]


def test_resolve_and_redact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_TEST_HOOK", "https://hooks.example/s3cr3t-value")
    template = "${env:ROLLOUT_TEST_HOOK}"
    value = resolve(template)
    assert value == "https://hooks.example/s3cr3t-value"
    message = f"POST {value} failed: 500"
    assert redact(message, [template]) == "POST *** failed: 500"


def test_resolve_unset_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_TEST_MISSING", raising=False)
    with pytest.raises(UsageError, match=r"environment variable ROLLOUT_TEST_MISSING is not set"):
        resolve("${env:ROLLOUT_TEST_MISSING}")
