"""Suite-wide pytest setup: plugin registration, and strict mode.

Strict mode (ROLLOUT_TEST_STRICT=1, which scripts/test sets when it runs as root and so has installed
every server and browser the tests use): a skipped test fails the run. A test skips when nginx,
HAProxy, PostgreSQL, Prometheus, Chromium or Spark is missing — on a developer's machine that is a
convenience, in CI it would be a silent hole."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["fixtures_servers", "fixtures_pg"]

STRICT = "ROLLOUT_TEST_STRICT"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if os.environ.get(STRICT) == "1" and skipped and exitstatus == pytest.ExitCode.OK:
        names = ", ".join(sorted({report.nodeid for report in skipped})[:10])
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"{STRICT}=1: {len(skipped)} tests were skipped, which strict mode refuses: {names}",
                                red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
