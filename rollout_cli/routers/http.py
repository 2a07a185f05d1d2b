"""The `http` router: a REST endpoint that holds the split as JSON (GET reads it, PUT sets it).

    GET  {url}  -> 200 {"candidate_traffic": 5.0, "shadow": 100.0, ...}
    PUT  {url}  <- {"candidate_traffic": 5.0, "shadow": 100.0}   (any 2xx accepts it)

Choices:
- the bearer token is only ever a `${env:NAME}` reference in the plan, resolved at each call and
  scrubbed (with the URL's own references) from every error message;
- each call has a timeout (option timeout, default 5s); connection failures, timeouts, 429 and
  5xx are retried (option retries, default 2) by urllib3's Retry (routers/http_client.py: the
  first retry at once, then 0.4s, 0.8s, ... capped at 2s); other 4xx answers are final
  (retrying a refusal does not change it);
- `apply` PUTs only when a GET shows another split (idempotent), and `verify` is a fresh GET:
  a router that answers 200 to a PUT and keeps serving the old split fails verification.
- requests (with urllib3's Retry) is the one HTTP client of the project, imported on first use.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

from rollout_cli.errors import RouterError
from rollout_cli.routers.base import RouterSplit, ensure_split_in_range, splits_match
from rollout_cli.routers.options import AdapterOptions
from rollout_cli.secrets import redact, resolve

_USERINFO = re.compile(r"//[^/@\s]+@")


def _share(value: Any) -> float:
    """A percentage from the router's JSON: a number from 0 to 100. `false`, `"0"` or null are not
    shares (float() would take `false` as 0, the baseline, and "verify" a rollback on it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise ValueError(f"not a share: {value!r}")
    return float(value)


class HttpRouter:
    """Options: {url, token?: "${env:NAME}", timeout?: 5s, retries?: 2}."""

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 5.0, retries: int = 2) -> None:
        self.url = url  # may itself hold ${env:…} references
        self.token = token  # a ${env:NAME} reference, never the value
        self.timeout_s = timeout_s
        self.retries = retries

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HttpRouter:
        example = "{url: https://router.internal/splits/ranker, token: ${env:ROUTER_TOKEN}}"
        with AdapterOptions("http", options, known=("url", "token", "timeout", "retries"), example=example) as opts:
            router = cls(
                url=opts.url("url"),
                token=opts.secret_reference("token"),
                timeout_s=opts.seconds("timeout", 5.0),
                retries=opts.count("retries", 2, maximum=10),
            )
        return router

    def _redact(self, text: str) -> str:
        text = _USERINFO.sub("//***@", text)  # credentials written into a URL are secrets too
        return redact(text, [t for t in (self.url, self.token) if t])

    def _body(self, payload: bytes) -> str:
        """The start of an answer's body for a message: scrubbed before it is cut, so a secret
        the router echoes cannot leak half of itself."""
        return self._redact(payload.decode(errors="replace"))[:200]

    def _call(self, method: str, body: bytes | None = None) -> tuple[int, bytes]:
        """One request with bounded retries (routers/http_client.py); RouterError (secrets redacted) when all fail."""
        from rollout_cli.routers.http_client import HttpFailure, call

        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {resolve(self.token)}"
        try:
            return call(method, resolve(self.url), retries=self.retries, timeout_s=self.timeout_s, headers=headers,
                        body=body)
        except HttpFailure as failure:
            tries = self.retries + 1
            raise RouterError(
                self._redact(f"{method} {self.url} failed after {tries} attempt{'s' if tries > 1 else ''}: {failure}"),
                hint="check the router service is up and reachable; the manual commands are in the runbook",
            ) from None

    def read(self) -> RouterSplit:
        status, payload = self._call("GET")
        if status != 200:
            raise RouterError(self._redact(f"GET {self.url} answered HTTP {status}: ") + self._body(payload))
        try:
            document = json.loads(payload)
            split = RouterSplit(_share(document["candidate_traffic"]), _share(document["shadow"]))
        except (ValueError, KeyError, TypeError, RecursionError):
            raise RouterError(
                self._redact(f"GET {self.url} did not answer a JSON split: ") + repr(self._body(payload)),
                hint='the router must answer {"candidate_traffic": <percent>, "shadow": <percent>}',
            ) from None
        return split

    def apply(self, split: RouterSplit) -> None:
        ensure_split_in_range(split)
        if splits_match(self.read(), split):
            return
        status, payload = self._call("PUT", json.dumps(split.to_json()).encode())
        if not 200 <= status < 300:
            raise RouterError(
                self._redact(f"PUT {self.url} refused the split ({split}): HTTP {status} ") + self._body(payload)
            )

    def verify(self, split: RouterSplit) -> bool:
        return splits_match(self.read(), split)

    def explain(self, split: RouterSplit) -> list[str]:
        # The URL and token stay references: the person running this resolves them from env.
        url = self.url.replace("${env:", "${")
        auth = f' -H "Authorization: Bearer ${{{self.token[6:-1]}}}"' if self.token else ""
        body = shlex.quote(json.dumps(split.to_json()))
        return [
            (f'curl -fsS --max-time {self.timeout_s:g} -X PUT -H "Content-Type: application/json"{auth} '
            f'-d {body} "{url}"'),
            f'curl -fsS --max-time {self.timeout_s:g}{auth} "{url}"  # expect {json.dumps(split.to_json())}',
        ]
