"""Fixtures with real routers on loopback (see tests/servers.py), for any test in the suite:

    @pytest.mark.servers
    def test_x(haproxy_stack):  # HAProxy on a free port before a baseline and a candidate
        router = haproxy_stack.router()

`nginx_stack` and `haproxy_stack` skip the test when the binary is not installed;
`split_service` is a REST router for the `http` adapter (pure Python, always available).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from servers import HAProxyStack, NginxStack, SplitService


@contextmanager
def _short_dir() -> Iterator[Path]:
    # UNIX socket paths are limited to 107 bytes; pytest's tmp_path can be longer.
    root = Path(tempfile.mkdtemp(prefix="rollout-srv-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def nginx_stack() -> Iterator[NginxStack]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (scripts/test installs it)")
    with _short_dir() as root:
        stack = NginxStack(root)
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture
def haproxy_stack() -> Iterator[HAProxyStack]:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (scripts/test installs it)")
    with _short_dir() as root:
        stack = HAProxyStack(root)
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture
def split_service() -> Iterator[SplitService]:
    service = SplitService()
    try:
        yield service
    finally:
        service.stop()
