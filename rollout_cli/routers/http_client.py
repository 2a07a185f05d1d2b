"""The one way `rollout` speaks HTTP to a router: requests with urllib3's `Retry`.

`call(method, url, …)` makes one logical request: connection failures, timeouts, 429 and 5xx
are retried `retries` times by urllib3 (exponential backoff, factor 0.2 s, capped at 2 s — the
first retry is immediate; a `Retry-After` header is not obeyed, so a rollback's wait stays
bounded); any other answer is returned as it is. When every attempt fails, `HttpFailure` says
why in a few words ("Connection refused", "no answer within 5s", "HTTP 503"). requests is
imported on first use: `plan validate` builds routers but never calls them.
"""

from __future__ import annotations

from typing import Any

RETRY_STATUS = (429, 500, 502, 503, 504)
BACKOFF_FACTOR_S = 0.2
BACKOFF_MAX_S = 2.0


class HttpFailure(Exception):
    """Every attempt failed; str() is the last reason."""


def _session(retries: int) -> Any:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(total=retries, connect=retries, read=retries, status=retries, other=0,
                  backoff_factor=BACKOFF_FACTOR_S, backoff_max=BACKOFF_MAX_S, status_forcelist=RETRY_STATUS,
                  allowed_methods=frozenset({"GET", "PUT", "HEAD"}), raise_on_status=False,
                  respect_retry_after_header=False)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _innermost(error: BaseException) -> str:
    """The root cause in words: the deepest OSError's strerror ("Connection refused"), else the text.
    requests wraps urllib3's MaxRetryError, whose `reason` holds the error whose cause is the OSError."""
    found, seen, todo = str(error), set(), [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            found = current.strerror
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__,
                  *(arg for arg in current.args if isinstance(arg, BaseException))]
        todo.extend(n for n in nested if isinstance(n, BaseException))
    return found


def call(method: str, url: str, *, retries: int, timeout_s: float, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, bytes]:
    """(status, body) of the last answer; HttpFailure when no attempt got an answer worth returning."""
    import requests

    with _session(retries) as session:
        try:
            response = session.request(method, url, data=body, headers={"Connection": "close", **(headers or {})},
                                       timeout=timeout_s)
        except requests.exceptions.Timeout:
            raise HttpFailure(f"no answer within {timeout_s:g}s") from None
        except requests.exceptions.RequestException as error:
            if "timed out" in str(error).lower():
                raise HttpFailure(f"no answer within {timeout_s:g}s") from None
            raise HttpFailure(_innermost(error)) from None
        if response.status_code in RETRY_STATUS:
            raise HttpFailure(f"HTTP {response.status_code}")
        return response.status_code, response.content
