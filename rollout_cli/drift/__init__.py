"""Covariate shift of inputs and drift of the models' outputs (docs/statistics.md, docs/plan.md).

Contract:
- `bins.profile_reference(...)` reads the reference once per column and fixes its bins: numeric
  columns on the reference's deciles, categorical ones one bin per value (the 50 most frequent),
  each with a "missing" bin (NULLs are counted, not dropped) and a last bin for values the
  reference never had ("unseen"). A column missing from a side, a type that changed between
  the reference and the logs, an empty reference or a column NULL in every reference row is a
  DataError naming the feature — never "no drift".
- `queries.window_counts(...)` counts every column's bins per window in one scan of the logs.
- `measure.measure_drift(plan, logs, since, until, window_s)` returns a `DriftReport`: per
  column, per window, the PSI with its interval and the decision of `stats.shift.judge_shift`
  at the plan's confidence and the column's threshold, the bins that moved most.
- `check.latest_drift(...)` is what a tick looks at: each column's decision on its last
  complete window only (a window is judged once, on its own rows).
Nothing here writes state or runs commands: transitions/ acts on the result.
"""
