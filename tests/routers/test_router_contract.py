"""The one contract every router adapter passes (docs/routers.md): read, apply, verify, explain, errors.

Each case builds a real router (a file, a REST service on loopback, nginx, HAProxy) through the
registry, as a plan would, and a way to take that router down.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rollout_cli.errors import RouterError
from rollout_cli.routers.base import BASELINE_ONLY, Router, RouterSplit
from rollout_cli.routers.registry import router_for


@dataclass
class Case:
    router: Router
    take_down: Callable[[], None]
    shadow: bool  # whether the adapter itself applies a shadow share

    def ramp(self) -> list[RouterSplit]:
        shadow = 100.0 if self.shadow else 0.0
        return [RouterSplit(0.0, shadow), RouterSplit(1.0, 0.0), RouterSplit(5.0, 0.0), RouterSplit(25.0, 0.0),
                RouterSplit(50.0, 0.0), RouterSplit(100.0, 0.0), BASELINE_ONLY]


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=5)


def _file(tmp_path: Path, request: Any) -> Case:
    path = tmp_path / "router.json"
    router = router_for("file", {"path": str(path)})
    router.prepare()  # as `rollout start` does: the serving system's file exists before any apply
    return Case(router, lambda: (path.unlink(), path.mkdir()), shadow=True)


def _http(tmp_path: Path, request: Any) -> Case:
    service = request.getfixturevalue("split_service")
    router = router_for("http", {"url": service.url, "timeout": 1, "retries": 0})
    return Case(router, service.stop, shadow=True)


def _nginx(tmp_path: Path, request: Any) -> Case:
    stack = request.getfixturevalue("nginx_stack")
    return Case(router_for("nginx", stack.options(settle_timeout=1)), lambda: _stop(stack.process), shadow=True)


def _haproxy(tmp_path: Path, request: Any) -> Case:
    stack = request.getfixturevalue("haproxy_stack")
    options = stack.options(shadow_file=str(tmp_path / "mirror.json"))  # HAProxy itself cannot mirror
    return Case(router_for("haproxy", options), lambda: _stop(stack.process), shadow=True)


@pytest.fixture(
    params=[
        pytest.param(_file, id="file"),
        pytest.param(_http, id="http"),
        pytest.param(_nginx, id="nginx", marks=pytest.mark.servers),
        pytest.param(_haproxy, id="haproxy", marks=pytest.mark.servers),
    ]
)
def case(request: Any, tmp_path: Path) -> Case:
    return request.param(tmp_path, request)


def test_apply_then_read_and_verify_every_stage_of_a_ramp(case: Case) -> None:
    for split in case.ramp():
        case.router.apply(split)
        assert case.router.read() == split
        assert case.router.verify(split) is True


def test_verify_is_false_for_a_split_the_router_does_not_serve(case: Case) -> None:
    case.router.apply(RouterSplit(5.0, 0.0))
    assert case.router.verify(RouterSplit(25.0, 0.0)) is False
    assert case.router.verify(BASELINE_ONLY) is False


def test_apply_is_idempotent(case: Case) -> None:
    split = RouterSplit(25.0, 0.0)
    case.router.apply(split)
    case.router.apply(split)
    assert case.router.read() == split
    assert case.router.verify(split) is True


def test_explain_gives_commands_for_every_split(case: Case) -> None:
    for split in case.ramp():
        commands = case.router.explain(split)
        assert commands and all(isinstance(c, str) and c.strip() for c in commands)


def test_a_share_outside_0_to_100_is_refused_before_touching_the_router(case: Case) -> None:
    case.router.apply(BASELINE_ONLY)
    with pytest.raises(RouterError, match=r"^refusing to apply candidate_traffic 120%: a share is between 0% and 100%$"):
        case.router.apply(RouterSplit(120.0, 0.0))
    assert case.router.read() == BASELINE_ONLY


def test_a_router_that_is_down_raises_router_error(case: Case) -> None:
    case.router.apply(BASELINE_ONLY)
    case.take_down()
    with pytest.raises(RouterError):
        case.router.read()
    with pytest.raises(RouterError):
        case.router.verify(BASELINE_ONLY)
    with pytest.raises(RouterError):
        case.router.apply(RouterSplit(5.0, 0.0))
