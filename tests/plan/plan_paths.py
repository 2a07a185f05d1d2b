"""Where the plan tests find their example files."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "tests" / "plans" / "good"
BAD = ROOT / "tests" / "plans" / "bad"
EXAMPLES = sorted((ROOT / "plans").glob("*.yaml"))
GOOD_FILES = EXAMPLES + sorted(GOOD.glob("*.yaml"))
BAD_FILES = sorted(BAD.glob("*.yaml"))
