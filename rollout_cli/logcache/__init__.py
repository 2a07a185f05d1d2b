"""A cache of the log rows already read and of the per-unit rows, beside the state: a tick reads only
the files that are new and recomputes only the units they touch.

Contract (docs/incremental.md):
- `plan_logs(plan, stage, folder)` (and `cached_logs` beneath it) is a context manager yielding `(Logs, CacheUse)`. The Logs
  answer every query exactly as `data.source.open_logs(spec)` would — same columns, same types,
  same rows — but a prediction or outcome source is the cache's copy of the files read before,
  unioned with the files that are new or changed since; only those are read from the logs.
- Only parquet globs are cached (their types are in the files); a table source, csv or json logs
  are read in full every time (`CacheUse.mode == "full"` with the reason).
- A file is copied into the cache (absorbed) once two looks in a row found it unchanged (path,
  size, mtime, a hash of its first and last 64 KiB): a file still being written is read from the
  logs until it settles. An absorbed file that changed or disappeared discards the whole cache
  (rebuilt from the logs in the same look, with a note): never a stale row.
- A traffic stage's per-unit rows are kept too (`units.UnitTable`, through `CacheUse.units`): a
  look recomputes only the units that its new rows, and the files absorbed since, touch.
- On unless ROLLOUT_EVALUATION_CACHE=0 (`cache_enabled`); `evaluate --full` reads every file.
- The cache file is `evaluation-cache.duckdb` in the state folder, keyed by a digest of the
  plan, the stage and CACHE_VERSION: another key, another version or a damaged file is
  discarded and rebuilt with a note; a cache held by another process (DuckDB's file lock) is
  not used: that look reads the logs in full, with a note.
"""

from __future__ import annotations

from rollout_cli.logcache.cache import (
    CACHE_FILE,
    CACHE_VERSION,
    ENABLE_VARIABLE,
    CacheUse,
    cache_enabled,
    cache_key,
    cached_logs,
    plan_logs,
)

__all__ = ["CACHE_FILE", "CACHE_VERSION", "ENABLE_VARIABLE", "CacheUse", "cache_enabled", "cache_key", "cached_logs",
           "plan_logs"]
