"""The nginx adapter against a real nginx on loopback before two model backends."""

from __future__ import annotations

import subprocess
import time

import pytest
from scipy.stats import binom
from servers import NginxStack, send_requests

from rollout_cli.errors import PlanError, RouterError
from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit
from rollout_cli.routers.nginx_config import parse_include, render_include
from rollout_cli.routers.nginx_workers import accepting_workers, masters
from rollout_cli.routers.registry import router_for

REQUESTS = 2000


def binomial_bounds(n: int, p: float, confidence: float = 0.999) -> tuple[int, int]:
    """The central `confidence` interval of Binomial(n, p): 99.9% two-sided by default."""
    tail = (1 - confidence) / 2
    return int(binom.ppf(tail, n, p)), int(binom.ppf(1 - tail, n, p))


def settle_mirrors(stack: NginxStack, expected: int) -> None:
    deadline = time.monotonic() + 2
    while sum(h.shadow for h in stack.candidate.hits()) < expected and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.servers
def test_the_served_split_and_the_mirrored_requests(nginx_stack: NginxStack) -> None:
    router = nginx_stack.router()
    router.apply(RouterSplit(10, 100))
    answers = send_requests(nginx_stack.port, REQUESTS)
    assert {a.status for a in answers} == {200}
    served_by_candidate = sum(a.model == "candidate" for a in answers)
    low, high = binomial_bounds(REQUESTS, 0.10)
    assert (low, high) == (157, 245)
    assert low <= served_by_candidate <= high
    # every request the baseline served is mirrored to the candidate with the same request id
    baseline_ids = {a.request_id for a in answers if a.model == "baseline"}
    settle_mirrors(nginx_stack, len(baseline_ids))
    mirrored = [h.request_id for h in nginx_stack.candidate.hits() if h.shadow]
    assert sorted(mirrored) == sorted(baseline_ids)
    assert {h.request_id for h in nginx_stack.baseline.hits()} == baseline_ids


@pytest.mark.servers
def test_a_partial_shadow_share_mirrors_that_share(nginx_stack: NginxStack) -> None:
    nginx_stack.router().apply(RouterSplit(0, 25))
    answers = send_requests(nginx_stack.port, 800)
    assert {a.model for a in answers} == {"baseline"}
    time.sleep(0.2)
    mirrored = [h for h in nginx_stack.candidate.hits() if h.shadow]
    low, high = binomial_bounds(800, 0.25)
    assert low <= len(mirrored) <= high
    assert {h.request_id for h in mirrored} <= {a.request_id for a in answers}


@pytest.mark.servers
def test_after_a_rollback_no_request_reaches_the_candidate(nginx_stack: NginxStack) -> None:
    router = nginx_stack.router()
    router.apply(RouterSplit(50, 100))
    send_requests(nginx_stack.port, 50)
    router.apply(BASELINE_ONLY)
    assert router.verify(BASELINE_ONLY)
    time.sleep(0.1)  # let mirrors of the earlier requests land before counting
    nginx_stack.candidate.clear()
    answers = send_requests(nginx_stack.port, 500)
    time.sleep(0.1)
    assert {a.model for a in answers} == {"baseline"}
    assert nginx_stack.candidate.hits() == []


@pytest.mark.servers
def test_a_rejected_include_leaves_the_old_one_serving(nginx_stack: NginxStack) -> None:
    router = nginx_stack.router()
    router.apply(RouterSplit(25, 0))
    before = nginx_stack.include.read_text()
    broken = nginx_stack.router(candidate="127.0.0.1:70000")  # nginx -t: invalid port in upstream
    with pytest.raises(RouterError) as caught:
        broken.apply(RouterSplit(50, 0))
    assert caught.value.message.startswith(
        f"nginx rejected the new include {nginx_stack.include}; the previous one is back in place "
        'and nginx keeps serving it: nginx: [emerg] invalid port in upstream "127.0.0.1:70000"'
    )
    assert nginx_stack.include.read_text() == before
    assert router.verify(RouterSplit(25, 0))
    answers = send_requests(nginx_stack.port, 200)
    assert {a.status for a in answers} == {200}
    assert {a.model for a in answers} == {"baseline", "candidate"}


@pytest.mark.servers
def test_without_a_status_page_read_parses_the_include_in_place(nginx_stack: NginxStack) -> None:
    router = nginx_stack.router(status_url=None)
    router.apply(RouterSplit(2.5, 50))
    assert router.read() == RouterSplit(2.5, 50)
    text = nginx_stack.include.read_text()
    assert '    2.5% candidate;\n    * baseline;\n' in text
    nginx_stack.include.write_text(text.replace("2.5% candidate", "7.5% candidate"))
    assert router.read() == RouterSplit(7.5, 50)  # what is in place, not what was written


@pytest.mark.servers
def test_the_manual_commands_do_what_apply_does(nginx_stack: NginxStack) -> None:
    router = nginx_stack.router()
    router.apply(RouterSplit(50, 0))
    for command in router.explain(BASELINE_ONLY):
        subprocess.run(["bash", "-c", command], check=True, capture_output=True, timeout=10)
    assert router.verify(BASELINE_ONLY)


def test_zero_and_full_shares_are_catch_alls_and_never_weight_zero() -> None:
    baseline_only = render_include("rollout", BASELINE_ONLY, "10.0.0.1:80", "10.0.0.2:80", "${request_id}")
    everyone = render_include("rollout", RouterSplit(100, 0), "10.0.0.1:80", "10.0.0.2:80", "${request_id}")
    assert 'split_clients "${request_id}" $rollout_arm {\n    * baseline;\n}' in baseline_only
    assert 'split_clients "${request_id}" $rollout_arm {\n    * candidate;\n}' in everyone
    assert 'split_clients "shadow${request_id}" $rollout_shadow {\n    * off;\n}' in everyone
    assert "weight" not in baseline_only + everyone
    assert parse_include(everyone, "rollout", "x") == RouterSplit(100, 0)


def test_a_share_nginx_cannot_express_is_refused() -> None:
    with pytest.raises(RouterError) as caught:
        render_include("rollout", RouterSplit(0.125, 0), "10.0.0.1:80", "10.0.0.2:80", "${request_id}")
    assert caught.value.message == "nginx split_clients cannot express 0.125% (at most two decimals)"
    assert caught.value.hint == "use 0.12% instead"


def test_options_are_checked_with_a_clear_message() -> None:
    with pytest.raises(PlanError) as caught:
        router_for("nginx", {"config_path": "/etc/nginx/rollout/r.conf", "baseline": "10.0.0.1:80"})
    assert caught.value.message.startswith("nginx router: option candidate is required (e.g. options: {config_path:")


@pytest.mark.servers
def test_without_a_status_page_a_stopped_nginx_is_still_noticed(nginx_stack: NginxStack) -> None:
    router = nginx_stack.router(status_url=None)
    router.apply(BASELINE_ONLY)
    nginx_stack.process.terminate()
    nginx_stack.process.wait(timeout=5)
    with pytest.raises(RouterError) as caught:
        router.verify(BASELINE_ONLY)
    assert caught.value.message == f"no nginx master process runs with {nginx_stack.conf}"


@pytest.mark.servers
def test_applying_the_split_nginx_already_serves_neither_writes_nor_reloads(nginx_stack: NginxStack) -> None:
    router = nginx_stack.router()
    router.apply(RouterSplit(25, 0))
    workers = accepting_workers(masters(nginx_stack.conf))
    mtime = nginx_stack.include.stat().st_mtime_ns
    router.apply(RouterSplit(25, 0))
    assert accepting_workers(masters(nginx_stack.conf)) == workers  # same workers: no reload
    assert nginx_stack.include.stat().st_mtime_ns == mtime
