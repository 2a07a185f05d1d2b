"""`rollout shadow`: the candidate's shadow answers compared with the baseline's, request by request.

Contract (docs/shadow.md):
- `compare_shadow(plan, stage=None, *, since, until, now, segment, examples, timeout_ms)` reads the
  plan's prediction log on the plan's engine (DuckDB, or Spark: docs/spark.md), pairs each served
  baseline answer of the window with the candidate's unserved answer to the same request id
  (`shadow.pairs`), and returns a frozen
  `ShadowResult` (`shadow.result`; `to_json()` gives every figure): coverage (missing, late,
  errored), agreement overall and per segment value (always-valid intervals, Holm across
  values, ranked by how much worse than overall), the label confusion table or the score
  comparison (difference distribution, rank correlation, both distributions and their distance,
  calibration when outcomes name requests), latency and errors of both models and by load,
  agreement on unusual inputs, deterministic disagreeing examples, the findings, and the shadow
  stage's guards judged on the pairs (`shadow.guards`).
- Bad input (the candidate never answered, a label against a score, repeated request ids, served
  candidate rows in a shadow window, missing or mistyped columns) raises DataError naming the
  column and the file; nothing is ever computed on wrong pairs.
- Layer: above `data` and `stats`, beside `evaluation`; imports neither `evaluation` nor anything higher.
"""

from __future__ import annotations

from rollout_cli.shadow.compare import compare_shadow
from rollout_cli.shadow.result import ShadowResult

__all__ = ["ShadowResult", "compare_shadow"]
