"""`rollout export`: the experiment as a file for analysts (docs/export.md).

Contract:
- `run_export(plan, store, out, ExportRequest(per, format, since, until, stage), force=...)`
  writes one row per request (or per unit and stage) with both arms' answers where both exist,
  the unit's attributed outcomes per outcome metric, the segment columns, the stage and router
  split in force at that moment (state/timeline.py: from the audit trail) and the flags the
  evaluation used (first exposure, crossover) — one DuckDB COPY, streamed under a memory limit.
- The file is written under a temporary name and renamed; an existing file is refused unless
  `force`; the data dictionary (column, meaning, type) is written beside it as
  NAME.dictionary.csv, and `describe_only` returns it without writing anything.
- Bad input is a UsageError or DataError naming the plan, file or column: no state yet, a stage
  that never ran, a missing column, an unwritable path — and no partial file.
"""
