from __future__ import annotations

import json

import pytest

from rollout_cli.errors import UsageError
from rollout_cli.secrets import env_references, malformed_references, redact, resolve, scrub


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


def test_a_secret_is_scrubbed_in_the_spellings_libraries_write_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import quote

    secret = 'Tok"en\\w\u00f6rd 99<1>\n'  # a quote, a backslash, non-ASCII, a space, a file's trailing newline
    monkeypatch.setenv("ROLLOUT_TEST_TOKEN", secret)
    resolve("${env:ROLLOUT_TEST_TOKEN}")
    for shown in (secret, secret.strip(), repr(secret), json.dumps(secret), json.dumps(secret, ensure_ascii=False),
                  quote(secret), f"http://router/fail/{quote(secret.strip(), safe='')}"):
        assert secret.strip() not in scrub(shown) and "rd 99" not in scrub(shown) and "rd%2099" not in scrub(shown), shown


def test_the_json_output_is_scrubbed_before_escaping(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from rollout_cli.cli.output import print_json
    from rollout_cli.secrets import remember

    secret = 'Tok"en\\wörd99'
    remember(secret)
    print_json({"reason": f"forced: {secret}", secret: 1})
    out = capsys.readouterr().out
    assert json.loads(out) == {"reason": "forced: ***", "***": 1}
