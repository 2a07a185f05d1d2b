"""One local Spark session (local[2]) for every Spark test: started once, stopped at the end.

The tests are skipped only where pyspark or sqlglot cannot be imported (`pip install
'rollout-cli[spark]'`; scripts/test installs it, and a Java runtime, so they run in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'rollout-cli[spark]' (scripts/test does)")
pytest.importorskip("sqlglot", reason="sqlglot is not installed: pip install 'rollout-cli[spark]' (scripts/test does)")

from spark_helpers import TEST_SPARK

from rollout_cli.data.spark import spark_session


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    session = spark_session(TEST_SPARK)
    yield session
    session.stop()
