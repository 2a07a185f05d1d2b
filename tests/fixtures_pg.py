"""PostgreSQL fixtures: one throwaway cluster per test run, a fresh database per test.

    def test_x(pg_url):  # postgresql://test@127.0.0.1:PORT/tNNN_M, schema initialised

`pg_cluster` skips the test when PostgreSQL is not installed (scripts/test installs it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_cluster import PgCluster, pg_bin


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/test installs it)")
    cluster = PgCluster().start()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    """Both stores: sets ROLLOUT_STATE_URL for PostgreSQL (it wins over ROLLOUT_STATE_DIR); the kind."""
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        monkeypatch.setenv("ROLLOUT_STATE_URL", cluster.new_database())
    else:
        monkeypatch.delenv("ROLLOUT_STATE_URL", raising=False)
    return str(request.param)
