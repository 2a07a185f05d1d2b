"""`rollout drill --router`: inline ADAPTER:KEY=VALUE or a file with {adapter, options}."""

from __future__ import annotations

import os

import pytest

from rollout_cli.errors import UsageError
from rollout_cli.runbook.router_spec import parse_router_spec


def test_inline_spec_reads_numbers_and_text() -> None:
    spec = parse_router_spec("http:url=http://127.0.0.1:9/split,retries=2,timeout=1.5")
    assert spec.router.adapter == "http"
    assert dict(spec.router.options) == {"url": "http://127.0.0.1:9/split", "retries": 2, "timeout": 1.5}
    assert spec.label == "http:retries=2,timeout=1.5,url=http://127.0.0.1:9/split"


def test_inline_spec_whose_value_ends_in_json_is_not_a_file() -> None:
    assert dict(parse_router_spec("file:path=staging/router.json").router.options) == {"path": "staging/router.json"}


def test_file_spec_takes_a_router_section_or_a_whole_plan(tmp_path) -> None:
    section = tmp_path / "staging.yaml"
    section.write_text("adapter: file\noptions: {path: staging.json}\n")
    assert parse_router_spec(str(section)).label == "file:path=staging.json"
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: x\nrouter: {adapter: haproxy, options: {socket: /run/h.sock, backend: be}}\n")
    assert parse_router_spec(str(plan)).label == "haproxy:backend=be,socket=/run/h.sock"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("staging", "--router 'staging' is neither ADAPTER:KEY=VALUE,… nor an existing file"),
        ("file:path", "--router: 'path' is not KEY=VALUE"),
        ("missing.yaml", "--router: missing.yaml: cannot read file: No such file or directory"),
        ("latin1.yaml", "--router: latin1.yaml:1:10: file is not UTF-8 text (invalid continuation byte: byte 0xe9)"),
        ("folder.yaml", "--router: folder.yaml: is a folder, not a plan file"),
        ("pipe.yaml", "--router: pipe.yaml: is not a regular file (a pipe or a device?); a plan is a YAML file"),
        ("tagged.yaml", "--router: tagged.yaml:1:10: YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed; plans hold plain data only"),
    ],
)
def test_bad_specs_say_what_to_write(value: str, message: str, tmp_path, monkeypatch) -> None:
    """A file that is not UTF-8, a folder or a pipe is a message, never a traceback or a hang."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes(b"adapter: \xe9\n")
    (tmp_path / "folder.yaml").mkdir()
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "tagged.yaml").write_text("adapter: !!python/object:os.system {}\n")
    with pytest.raises(UsageError) as caught:
        parse_router_spec(value)
    assert caught.value.message == message
    assert caught.value.hint == "--router file:path=staging/router.json (or --router staging-router.yaml)"


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("http:url=https://ops:hunter2@staging.internal/split", "a password in the URL (user:password@)"),
        ("http:url=https://staging.internal/split?api_key=hunter2", "the URL parameter 'api_key'"),
        ("myrouter:password=hunter2", "option password"),
    ],
)
def test_a_secret_written_into_the_router_spec_is_refused_unprinted(value: str, what: str) -> None:
    """The spec's label is printed and recorded in the audit trail: a secret may only be a reference."""
    with pytest.raises(UsageError) as caught:
        parse_router_spec(value)
    assert caught.value.message == f"--router: {what} looks like a secret written inline; it would be printed and recorded"
    assert "hunter2" not in caught.value.message + str(caught.value.hint)
    spec = parse_router_spec("http:url=https://${env:ROUTER_USER}:${env:ROUTER_PASSWORD}@staging.internal/split")
    assert spec.label == "http:url=https://${env:ROUTER_USER}:${env:ROUTER_PASSWORD}@staging.internal/split"
