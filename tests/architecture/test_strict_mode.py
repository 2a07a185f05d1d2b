"""Strict mode (tests/conftest.py): where scripts/test installed every server, a skipped test fails
the run instead of leaving a silent hole."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


@pytest.mark.parametrize(("strict", "code"), [("1", 1), ("0", 0)])
def test_a_skip_fails_the_run_only_in_strict_mode(tmp_path: Path, strict: str, code: int) -> None:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "conftest.py").write_text((tmp_path / "conftest.py").read_text().replace(
        'pytest_plugins = ["fixtures_servers", "fixtures_pg"]', "pytest_plugins: list[str] = []"))
    (tmp_path / "test_probe.py").write_text("import pytest\n\ndef test_needs_nginx():\n    pytest.skip('nginx missing')\n\n"
                                            "def test_plain():\n    assert 1 + 1 == 2\n")
    env = {**os.environ, "ROLLOUT_TEST_STRICT": strict}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stdout[-2000:]
    assert ("strict mode refuses" in done.stdout) is (strict == "1")
