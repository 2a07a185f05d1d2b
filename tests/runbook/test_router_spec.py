"""`rollout drill --router`: inline ADAPTER:KEY=VALUE or a file with {adapter, options}."""

from __future__ import annotations

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
        ("missing.yaml", "--router: cannot read missing.yaml: No such file or directory"),
    ],
)
def test_bad_specs_say_what_to_write(value: str, message: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        parse_router_spec(value)
    assert caught.value.message == message
    assert caught.value.hint == "--router file:path=staging/router.json (or --router staging-router.yaml)"
