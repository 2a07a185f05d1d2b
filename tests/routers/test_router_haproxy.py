"""The haproxy adapter against a real HAProxy (runtime API on its admin socket) on loopback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from scipy.stats import binom
from servers import HAProxyStack, send_requests

from rollout_cli.errors import PlanError, RouterError
from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit
from rollout_cli.routers.haproxy import weights_for
from rollout_cli.routers.registry import router_for

REQUESTS = 2000


@pytest.mark.servers
def test_the_served_split_is_the_applied_share(haproxy_stack: HAProxyStack) -> None:
    router = haproxy_stack.router()
    router.apply(RouterSplit(10, 0))
    assert router.weights() == (1, 9)
    answers = send_requests(haproxy_stack.port, REQUESTS)
    assert {a.status for a in answers} == {200}
    served_by_candidate = sum(a.model == "candidate" for a in answers)
    # 99.9% two-sided binomial bounds, (157, 245); round robin lands near 200 exactly
    low, high = int(binom.ppf(0.0005, REQUESTS, 0.1)), int(binom.ppf(0.9995, REQUESTS, 0.1))
    assert low <= served_by_candidate <= high
    assert abs(served_by_candidate - 200) <= 5  # weighted round robin is deterministic: 1 in 10
    ids = [a.request_id for a in answers]
    assert len(set(ids)) == REQUESTS and all(ids)  # HAProxy's unique-id reaches the client


@pytest.mark.servers
def test_after_a_rollback_no_request_reaches_the_candidate(haproxy_stack: HAProxyStack) -> None:
    router = haproxy_stack.router()
    router.apply(RouterSplit(50, 0))
    send_requests(haproxy_stack.port, 50)
    router.apply(BASELINE_ONLY)
    assert router.verify(BASELINE_ONLY)
    haproxy_stack.candidate.clear()
    answers = send_requests(haproxy_stack.port, 500)
    assert {a.model for a in answers} == {"baseline"}
    assert haproxy_stack.candidate.hits() == []


@pytest.mark.servers
def test_a_reload_keeps_the_weights_through_the_server_state_file(haproxy_stack: HAProxyStack) -> None:
    router = haproxy_stack.router()
    router.apply(RouterSplit(25, 0))
    assert haproxy_stack.state_file.read_text().startswith("1\n# be_id be_name srv_id srv_name")
    haproxy_stack.reload()
    assert router.read() == RouterSplit(25, 0)


@pytest.mark.servers
def test_without_a_state_file_a_reload_loses_the_weights(haproxy_stack: HAProxyStack) -> None:
    # The reason the adapter dumps the state: HAProxy never writes that file itself.
    router = haproxy_stack.router(state_file=None)
    router.apply(RouterSplit(25, 0))
    haproxy_stack.reload()
    assert router.read() == BASELINE_ONLY  # back to the configured weights 1:0


@pytest.mark.servers
def test_shadow_is_refused_without_a_file_for_an_external_mirror(haproxy_stack: HAProxyStack) -> None:
    router = haproxy_stack.router()
    router.apply(RouterSplit(5, 0))
    with pytest.raises(RouterError) as caught:
        router.apply(RouterSplit(0, 100))
    assert caught.value.message == "HAProxy cannot mirror requests, so it cannot apply a shadow share of 100%"
    assert caught.value.hint == (
        "mirror outside HAProxy and name the file it follows in the router option shadow_file, "
        "or use the nginx router for shadow stages"
    )
    assert router.read() == RouterSplit(5, 0)  # refused before any weight moved


@pytest.mark.servers
def test_the_shadow_share_lives_in_the_file_an_external_mirror_follows(
    haproxy_stack: HAProxyStack, tmp_path: Path
) -> None:
    shadow_file = tmp_path / "mirror.json"
    shadow_file.write_text(json.dumps({"shadow": 0.0, "target": "10.0.0.2:8080"}))
    router = haproxy_stack.router(shadow_file=str(shadow_file))
    router.apply(RouterSplit(0, 100))
    assert json.loads(shadow_file.read_text()) == {"shadow": 100.0, "target": "10.0.0.2:8080"}
    assert router.read() == RouterSplit(0, 100)
    shadow_file.write_text(json.dumps({"shadow": 50.0}))  # read back, never trusted
    assert router.verify(RouterSplit(0, 100)) is False
    router.apply(BASELINE_ONLY)
    assert router.read() == BASELINE_ONLY
    assert json.loads(shadow_file.read_text()) == {"shadow": 0.0}


@pytest.mark.servers
def test_an_unknown_server_is_a_router_error_naming_it(haproxy_stack: HAProxyStack) -> None:
    router = haproxy_stack.router(candidate_server="v42")
    with pytest.raises(RouterError) as caught:
        router.read()
    assert caught.value.message == "HAProxy answered 'No such server.' to `get weight models/v42`"


@pytest.mark.servers
def test_the_manual_commands_do_what_apply_does(haproxy_stack: HAProxyStack) -> None:
    router = haproxy_stack.router()
    router.apply(RouterSplit(50, 0))
    commands = router.explain(BASELINE_ONLY)
    outputs = [subprocess.run(["bash", "-c", c], check=True, capture_output=True, text=True).stdout for c in commands]
    assert router.read() == BASELINE_ONLY
    assert outputs[1].split() == ["0", "(initial", "0)", "1", "(initial", "1)"]
    assert "models 2 candidate 127.0.0.1 2 0 0 0" in haproxy_stack.state_file.read_text()


@pytest.mark.parametrize(
    ("share", "weights"),
    [(0, (0, 1)), (100, (1, 0)), (10, (1, 9)), (1, (1, 99)), (0.5, (1, 199)), (2.5, (1, 39)), (33, (33, 67))],
)
def test_weights_express_the_share_exactly(share: float, weights: tuple[int, int]) -> None:
    assert weights_for(share) == weights


def test_a_share_the_weights_cannot_express_is_refused_with_the_nearest_that_work() -> None:
    with pytest.raises(RouterError) as caught:
        weights_for(33.33)
    assert caught.value.message == "HAProxy weights (0..256) cannot serve exactly 33.33% to the candidate"
    assert caught.value.hint == "use 33% or 33.5% (whole and half percents always work)"


def test_options_are_checked_with_a_clear_message() -> None:
    with pytest.raises(PlanError) as caught:
        router_for("haproxy", {"backend": "models", "baseline_server": "a", "candidate_server": "b"})
    assert caught.value.message.startswith("haproxy router: option socket is required (e.g. options: {socket:")
    with pytest.raises(PlanError) as caught:
        router_for("haproxy", {"socket": "s", "backend": "m", "baseline_server": "a", "candidate_server": "b",
                               "mirror": "x"})
    assert caught.value.message == (
        "haproxy router: unknown option mirror (known: socket, backend, baseline_server, candidate_server, "
        "state_file, timeout, shadow_file)"
    )


@pytest.mark.servers
def test_the_manual_commands_also_set_the_external_mirror_share(haproxy_stack: HAProxyStack, tmp_path: Path) -> None:
    router = haproxy_stack.router(shadow_file=str(tmp_path / "mirror.json"))
    for command in router.explain(RouterSplit(0, 100)):
        subprocess.run(["bash", "-c", command], check=True, capture_output=True)
    assert router.read() == RouterSplit(0, 100)
