"""The http adapter against a real REST router on loopback (tests/servers.py SplitService)."""

from __future__ import annotations

import subprocess

import pytest
from servers import SplitService, free_port

from rollout_cli.errors import PlanError, RouterError
from rollout_cli.routers import http as http_module
from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit
from rollout_cli.routers.registry import router_for

TOKEN = "tok-4f9a1c22e7"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # The schedule's shape is what is tested; its absolute length would only slow the suite.
    from rollout_cli.routers import http_client

    monkeypatch.setattr(http_client, "BACKOFF_FACTOR_S", 0.01)
    monkeypatch.setattr(http_client, "BACKOFF_MAX_S", 0.02)


def test_the_bearer_token_comes_from_the_environment_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    service = SplitService(token=TOKEN)
    try:
        router = router_for("http", {"url": service.url, "token": "${env:ROUTER_TOKEN}"})
        monkeypatch.setenv("ROUTER_TOKEN", TOKEN)
        router.apply(RouterSplit(5, 100))
        assert router.read() == RouterSplit(5, 100)
        assert service.split == {"candidate_traffic": 5.0, "shadow": 100.0, "owner": "router-team"}
        assert {auth for _, auth in service.calls} == {f"Bearer {TOKEN}"}
        monkeypatch.setenv("ROUTER_TOKEN", "wrong-token-value")
        with pytest.raises(RouterError) as caught:
            router.read()
        assert caught.value.message.startswith(f"GET {service.url} answered HTTP 401")
    finally:
        service.stop()


def test_apply_puts_only_when_the_split_differs(split_service: SplitService) -> None:
    router = router_for("http", {"url": split_service.url})
    router.apply(RouterSplit(5, 0))
    router.apply(RouterSplit(5, 0))
    assert [method for method, _ in split_service.calls] == ["GET", "PUT", "GET"]


def test_500s_are_retried_with_backoff_then_succeed(split_service: SplitService) -> None:
    split_service.fail_next = 2
    router = router_for("http", {"url": split_service.url, "retries": 2})
    assert router.read() == BASELINE_ONLY
    assert len(split_service.calls) == 3


def test_a_router_that_keeps_failing_is_a_router_error_after_the_retries(split_service: SplitService) -> None:
    split_service.fail_next = 10
    router = router_for("http", {"url": split_service.url, "retries": 3})
    with pytest.raises(RouterError) as caught:
        router.apply(BASELINE_ONLY)
    assert caught.value.message == f"GET {split_service.url} failed after 4 attempts: HTTP 500"
    assert len(split_service.calls) == 4


def test_a_refusal_is_not_retried(split_service: SplitService) -> None:
    split_service.fail_next, split_service.fail_status = 5, 403
    router = router_for("http", {"url": split_service.url, "retries": 3})
    with pytest.raises(RouterError, match=r"answered HTTP 403"):
        router.read()
    assert len(split_service.calls) == 1


def test_a_router_that_hangs_times_out(split_service: SplitService) -> None:
    split_service.delay_s = 1.0
    router = router_for("http", {"url": split_service.url, "timeout": 0.1, "retries": 1})
    with pytest.raises(RouterError) as caught:  # the client's timeout fired, twice: the router answers after 1 s
        router.read()
    assert caught.value.message == f"GET {split_service.url} failed after 2 attempts: no answer within 0.1s"


def test_nothing_listening_is_a_router_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/split"
    router = router_for("http", {"url": url, "retries": 0})
    with pytest.raises(RouterError) as caught:
        router.verify(BASELINE_ONLY)
    assert caught.value.message == f"GET {url} failed after 1 attempt: Connection refused"


def test_a_router_that_lies_fails_verification(split_service: SplitService) -> None:
    split_service.lie = True  # answers 200 to the PUT and keeps the old split
    router = router_for("http", {"url": split_service.url})
    router.apply(RouterSplit(25, 0))
    assert router.verify(RouterSplit(25, 0)) is False
    assert router.read() == BASELINE_ONLY


def test_secrets_in_the_url_never_reach_an_error_message(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("ROUTER_KEY", "k3y-s3cr3t-991")
    router = router_for("http", {"url": f"http://127.0.0.1:{port}/split?key=${{env:ROUTER_KEY}}", "retries": 0})
    with pytest.raises(RouterError) as caught:
        router.read()
    assert "k3y-s3cr3t-991" not in caught.value.message
    assert caught.value.message == (
        f"GET http://127.0.0.1:{port}/split?key=${{env:ROUTER_KEY}} failed after 1 attempt: Connection refused"
    )


def test_the_manual_commands_do_what_apply_does(split_service: SplitService, monkeypatch: pytest.MonkeyPatch) -> None:
    split_service.token = TOKEN
    monkeypatch.setenv("ROUTER_TOKEN", TOKEN)
    router = router_for("http", {"url": split_service.url, "token": "${env:ROUTER_TOKEN}"})
    commands = router.explain(RouterSplit(5, 100))
    assert TOKEN not in "\n".join(commands)
    for command in commands:
        subprocess.run(["bash", "-c", command], check=True, capture_output=True)
    assert router.read() == RouterSplit(5, 100)


def test_an_inline_token_is_refused() -> None:
    with pytest.raises(PlanError) as caught:
        router_for("http", {"url": "https://router.internal/split", "token": "abc123"})
    assert caught.value.message == (
        "http router: option token must be a ${env:NAME} reference, never the secret itself "
        "(e.g. token: ${env:ROUTER_TOKEN})"
    )


def test_credentials_written_into_the_url_never_reach_a_message() -> None:
    router = http_module.HttpRouter(url="http://ops:hunter2@127.0.0.1:1/splits/ranker", timeout_s=0.5, retries=0)
    with pytest.raises(RouterError) as caught:
        router.read()
    assert "hunter2" not in caught.value.message and "ops:" not in caught.value.message
    assert "http://***@127.0.0.1:1/splits/ranker" in caught.value.message


@pytest.mark.parametrize("share", [False, True, "0", "5", None, [], -1, 100.5, float("nan")])
def test_a_share_that_is_not_a_number_from_0_to_100_is_refused(split_service: SplitService, share: object) -> None:
    """`false` or "0" read through float() looked like the baseline: a rollback "verified" on them."""
    split_service.split["candidate_traffic"] = share
    router = router_for("http", {"url": split_service.url})
    with pytest.raises(RouterError) as caught:
        router.read()
    assert "did not answer a JSON split" in caught.value.message
    with pytest.raises(RouterError):  # never True: the rollback is not reported verified
        router.verify(BASELINE_ONLY)
