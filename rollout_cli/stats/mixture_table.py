"""Tabulated horizon levels of the two-component mixtures (stats.spending), as stats/horizon_table.py
holds the single mixture's: an evaluation reads them instead of spending ~0.2 s of CPU per shape on
the grid propagations of the level's root search (benchmarks/README.md, "`rollout evaluate`").

The shapes are those `spending.mixture_key` makes of the guards' mixtures (stats/guards.py), in the
units of their reference component, the ratio of the other rounded to 8 steps a decade
(q = 10^(-k/8), k = 0..MAX_RATIO_STEP):
- `relative`: a relative guard's normal mixture at the plan's size as the reference (weight 0.2) and
  the point alternative at the limit's harm with centre sqrt(q) (weight 0.8);
- `relative-point`: the same two when the point alternative is the reference (centre 1) and the
  normal mixture's rho² is q;
- `absolute`: an absolute guard's normal mixture at the plan's size (reference, weight 0.2) and the
  one at a quarter of the declared horizon, rho² q (weight 0.8).
For the horizon steps FIRST_STEP..LAST_STEP (24 a decade, as `horizon_level` rounds them), each
entry is the very number `spending._level` computes for that exact Mixture and alpha (as
`1 - confidence` gives it) — so a verdict read from the table is the one computed, figure for
figure. Any other shape, alpha or step is computed as before.

Stored so far (each shape × horizon costs ~0.2–0.5 CPU s): 95% and 99% confidence (the default and
the plans in plans/), both relative shapes at every ratio step, and the absolute shape at ratio
steps 0 and 1 (the absolute mixture needs a declared traffic_estimate, which neither the defaults
nor the plans in plans/ have: their absolute guards use one mixture, stats/horizon_table.py).
Running the generator again adds the rest of CONFIDENCES × KINDS. tests/stats/test_mixture_table.py
recomputes a sample of entries and requires them to be equal.

Regenerate after changing stats/spending.py (`--again`; about 1 CPU hour a confidence, `--jobs` in parallel):
`python -m rollout_cli.stats.mixture_table --jobs 2`. The numbers live in mixture_levels.json beside
this module and are read on the first lookup only (an evaluation without a mixture never reads them).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rollout_cli.stats.sequential import Mixture

FIRST_STEP = 24  # horizon 10^(24/24) = 10 (in the reference's scale); shorter horizons are computed
LAST_STEP = 144  # horizon 10^6
MAX_RATIO_STEP = 24  # ratios down to 10^-3
CONFIDENCES = (0.95, 0.99, 0.90)
# the guards' weights, as stats/guards.py writes them (1 - 0.8, 0.8)
WEIGHTS = (1.0 - 0.8, 0.8)
KINDS = ("relative", "relative-point", "absolute")
TABLE = Path(__file__).with_name("mixture_levels.json")


def shape(kind: str, ratio_step: int) -> Mixture:
    """The Mixture `spending.mixture_key` makes for this kind and ratio step (the same floats)."""
    from rollout_cli.stats.sequential import Mixture

    q = 10.0 ** (-ratio_step / 8.0)
    if kind == "relative":
        return Mixture((1.0, 0.0), WEIGHTS, (0.0, math.sqrt(q)))
    if kind == "relative-point":
        return Mixture((q, 0.0), WEIGHTS, (0.0, math.sqrt(1.0)))
    return Mixture((1.0, q), WEIGHTS)


def _key(alpha: float, mixture: Mixture) -> str:
    return repr((alpha, mixture.rho2s, mixture.weights, mixture.centres))


@lru_cache(maxsize=1)
def _levels() -> dict[str, list[float | None]]:
    if not TABLE.exists():
        return {}
    stored = json.loads(TABLE.read_text())
    return stored["levels"] if stored.get("first_step") == FIRST_STEP else {}


def tabled_mixture_level(alpha: float, step: int, mixture: Mixture) -> float | None:
    """The stored level for `alpha` at horizon step `step` of this exact mixture shape, or None."""
    if not FIRST_STEP <= step <= LAST_STEP or len(mixture.rho2s) != 2:
        return None
    levels = _levels().get(_key(alpha, mixture))
    return None if levels is None else levels[step - FIRST_STEP]


def _computed(task: tuple[float, str, int]) -> tuple[str, list[float | None]]:
    from rollout_cli.stats.spending import _level

    alpha, kind, ratio_step = task
    mixture = shape(kind, ratio_step)
    levels: list[float | None] = []
    for step in range(FIRST_STEP, LAST_STEP + 1):
        try:
            levels.append(_level.__wrapped__(alpha, 10.0 ** (step / 24.0), mixture))
        except ValueError:  # no root in range: left to the computation, which says so
            levels.append(None)
    return _key(alpha, mixture), levels


def main() -> None:  # pragma: no cover - a maintenance script, checked through its output
    import argparse
    from multiprocessing import Pool

    parser = argparse.ArgumentParser(description="Regenerate mixture_levels.json.")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--confidence", type=float, nargs="+", default=list(CONFIDENCES))
    parser.add_argument("--again", action="store_true", help="Recompute the shapes already stored too.")
    args = parser.parse_args()
    levels_of: dict[str, list[float | None]] = dict(_levels())
    tasks = [(1.0 - confidence, kind, k) for confidence in args.confidence for kind in KINDS
             for k in range(MAX_RATIO_STEP + 1)
             if args.again or _key(1.0 - confidence, shape(kind, k)) not in levels_of]  # resumable
    with Pool(args.jobs) as pool:
        for key, levels in pool.imap_unordered(_computed, tasks):
            levels_of[key] = levels
            TABLE.write_text(json.dumps({"first_step": FIRST_STEP, "levels": levels_of}, indent=0, sort_keys=True)
                             + "\n")  # progress kept


if __name__ == "__main__":
    main()
