"""Counts read from a Prometheus server, for guard metrics with `source: prometheus` (docs/data.md).

Contract of `read_count(server, query, at=..., window_s=...)`:
- `$window` in the query becomes the judged window's length in whole seconds (`3600s`), and the
  query is evaluated once, at `at`, through `/api/v1/query?time=` — so a tick judges the same
  instant however late it runs, and a backfilled server answers as a live one would.
- The answer must be one finite, non-negative number: a scalar, or an instant vector of exactly
  one sample (write `sum(...)` around a selector). Anything else — the server does not answer
  or refuses the query, an empty vector ("no data"), several series, NaN — raises
  `PrometheusUnavailable` with the reason in words; the caller holds the stage on it, never
  passes it.
- `${env:…}` in the URL and the token are resolved only here, at query time; the token is sent
  as a bearer token. Errors carry the URL with every secret scrubbed.
- HTTP goes through routers/http_client.py (requests with urllib3's Retry: a few retries with
  a capped backoff, then a reason in words). Nothing here runs at `plan validate`.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from rollout_cli.errors import RolloutError
from rollout_cli.routers.http_client import HttpFailure, call
from rollout_cli.secrets import redact, resolve

TIMEOUT_S = 10.0
RETRIES = 2


class PrometheusUnavailable(Exception):
    """No usable number came back; str() says why, with no secret in it."""


@dataclass(frozen=True)
class Server:
    url: str  # as written in the plan: a literal URL or a ${env:…} reference
    token: str | None = None  # a ${env:…} reference, sent as a bearer token

    def describe(self) -> str:
        """The server for messages: scheme, host and port only (a user, password, path or query
        in the URL may carry a credential), or the reference itself when it is not set."""
        try:
            parts = urlsplit(resolve(self.url))
            return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        except (RolloutError, ValueError):
            return self.url  # unresolved or malformed: the reference itself names no secret


def window_text(window_s: float) -> str:
    """A PromQL duration for `$window`: whole seconds, at least one."""
    return f"{max(1, round(window_s))}s"


def read_count(server: Server, query: str, *, at: datetime, window_s: float) -> float:
    """The query's one number at `at` (see the module contract)."""
    promql = query.replace("$window", window_text(window_s))
    where = server.describe()
    try:
        base = resolve(server.url).rstrip("/")
        headers = {"Authorization": f"Bearer {resolve(server.token)}"} if server.token else {}
    except RolloutError as exc:  # an unset variable: said, never guessed
        raise PrometheusUnavailable(exc.message) from None
    url = f"{base}/api/v1/query?{urlencode({'query': promql, 'time': f'{at.timestamp():.3f}'})}"
    # urllib3 logs each retry as a WARNING quoting the request; the URL as written may carry a credential
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    try:
        status, body = call("GET", url, retries=RETRIES, timeout_s=TIMEOUT_S, headers=headers)
    except HttpFailure as exc:
        raise PrometheusUnavailable(f"Prometheus at {where} did not answer: {redact(str(exc), [server.url])}") from None
    try:
        doc = json.loads(body)
    except ValueError:
        raise PrometheusUnavailable(f"Prometheus at {where} answered HTTP {status} with no JSON") from None
    if status != 200 or doc.get("status") != "success":
        why = doc.get("error") or f"HTTP {status}"
        raise PrometheusUnavailable(f"Prometheus at {where} refused the query: {redact(str(why), [server.url])}")
    return _one_number(doc.get("data") or {}, promql, at)


def _one_number(data: dict[str, Any], promql: str, at: datetime) -> float:
    kind, result = data.get("resultType"), data.get("result")
    raw: Any
    if kind == "scalar":
        raw = result[1] if isinstance(result, list) and len(result) == 2 else None
    elif kind == "vector" and isinstance(result, list):
        if not result:
            raise PrometheusUnavailable(f"no data: `{promql}` returned an empty vector at {at.isoformat()}")
        if len(result) > 1:
            raise PrometheusUnavailable(f"`{promql}` returned {len(result)} series at {at.isoformat()}; "
                                        "one number is needed (wrap it in sum(...))")
        raw = result[0].get("value", [None, None])[1]
    else:
        raise PrometheusUnavailable(f"`{promql}` returned a {kind}, not a number (use an instant query)")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise PrometheusUnavailable(f"`{promql}` returned {raw!r}, not a number") from None
    if not math.isfinite(value) or value < 0:
        raise PrometheusUnavailable(f"`{promql}` returned {raw} at {at.isoformat()}; a count must be a finite "
                                    "number of at least 0")
    return value
