"""`rollout plan simulate`: what a plan would do to a harmful (or a harmless) candidate.

Contract:
- `simulate_plan(plan, Scenario(...)) -> PlanSimulation` runs the plan's real decision logic —
  the evaluator's `judge_checks` (the same guard statistics, Holm), its SRM test and verdict, and
  `transitions.decide` — on simulated *sufficient statistics* (unit counts and sums per arm and
  segment value, drawn per look), never on raw rows, so hundreds of rollouts take seconds.
- Per traffic stage it reports the chance a harm is caught there, the median and p90 time to
  the rollback, the candidate units exposed before it, the chance of reaching the end anyway;
  with no harm, the chance of a false rollback and the median time to 100%.
- It warns when a stage cannot detect a named harm within `decision.max_duration` at the
  traffic given, and, for a catch target, says by when a stage catches that share of harms.
- Assumptions (docs/statistics.md, "Simulating a plan"): baseline rates per metric kind, segment
  shares as the log simulator's; quantile and agreement guards are not simulated (reported).
- Lower layers never import this package; the CLI calls `simulate_plan` and renders the result.
"""

from __future__ import annotations

from rollout_cli.planning.harms import Harm, parse_harm
from rollout_cli.planning.simulate import PlanSimulation, Scenario, StageOutcome, simulate_plan

__all__ = ["Harm", "PlanSimulation", "Scenario", "StageOutcome", "parse_harm", "simulate_plan"]
