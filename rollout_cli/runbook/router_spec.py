"""`rollout drill --router SPEC`: pointing a drill at another router (a staging copy).

Two spellings:
- inline, `ADAPTER:KEY=VALUE[,KEY=VALUE…]`, e.g. `file:path=staging/router.json` or
  `haproxy:socket=/run/haproxy/staging.sock,backend=ranker,baseline_server=v41,candidate_server=v42`;
  a value that is a whole number or a decimal is read as a number, anything else as text
  (no value may contain a comma; use a file for that);
- a YAML or JSON file holding `{adapter: …, options: {…}}` — the same shape as a plan's
  `router:` section — or a whole plan, whose `router:` section is used. A value names a file
  when such a file exists, or when it is not ADAPTER:KEY=VALUE and ends in .yaml, .yml or .json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rollout_cli.errors import UsageError
from rollout_cli.plan.model import Router

_INLINE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*):(.*)$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_FILE_SUFFIXES = (".yaml", ".yml", ".json")
EXAMPLE = "--router file:path=staging/router.json (or --router staging-router.yaml)"


@dataclass(frozen=True)
class RouterSpec:
    router: Router
    label: str  # how the drill names where it ran, in its record and the runbook


def describe_router(router: Router) -> str:
    """`adapter:key=value,…` with keys sorted; secrets stay `${env:…}` references (never resolved here)."""
    options = ",".join(f"{key}={router.options[key]}" for key in sorted(router.options))
    return f"{router.adapter}:{options}" if options else router.adapter


def _value(text: str) -> Any:
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    return text


def _from_file(path: Path) -> Router:
    # The plan loader: bounded, plain data only, and a clear message for a folder, a pipe or
    # bytes that are not UTF-8.
    from rollout_cli.plan.load import LoadError, load_plan_file

    try:
        document = load_plan_file(path).data
    except LoadError as error:
        p = error.problem
        where = p.file if (p.line, p.column) == (1, 1) else f"{p.file}:{p.line}:{p.column}"
        raise UsageError(f"--router: {where}: {p.message}", hint=EXAMPLE) from None
    if isinstance(document, dict) and isinstance(document.get("router"), dict):
        document = document["router"]  # a whole plan (e.g. plans/staging/x.yaml): its router section
    if not isinstance(document, dict) or not isinstance(document.get("adapter"), str):
        raise UsageError(f"--router: {path} must hold {{adapter: NAME, options: {{…}}}}", hint=EXAMPLE)
    options = document.get("options") or {}
    if not isinstance(options, dict):
        raise UsageError(f"--router: options in {path} must be a mapping", hint=EXAMPLE)
    return Router(adapter=document["adapter"], options=MappingProxyType(dict(options)))


def _inline(text: str) -> Router:
    match = _INLINE.match(text)
    if not match:
        raise UsageError(f"--router {text!r} is neither ADAPTER:KEY=VALUE,… nor an existing file", hint=EXAMPLE)
    adapter, rest = match.group(1), match.group(2)
    options: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--router: {pair!r} is not KEY=VALUE", hint=EXAMPLE)
        options[key.strip()] = _value(value.strip())
    return Router(adapter=adapter, options=MappingProxyType(options))


def _refuse_inline_secrets(router: Router) -> None:
    """The label of a drill's router is printed and recorded in the audit trail, so a secret in
    its options (a password in a URL, a token) may only be a `${env:NAME}` reference."""
    from rollout_cli.plan.rules_secrets import SECRET_KEY, url_secret

    for key, value in router.options.items():
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                continue
            inline = url_secret(item)
            if inline is None and SECRET_KEY.search(str(key)) and item and "${" not in item:
                inline = f"option {key}"
            if inline:
                raise UsageError(
                    f"--router: {inline} looks like a secret written inline; it would be printed and recorded",
                    hint="pass it by reference, e.g. 'http:url=https://router/split,token=${env:STAGING_TOKEN}' "
                    "(in single quotes, so the shell leaves it alone)",
                )


def parse_router_spec(text: str) -> RouterSpec:
    """The router a `--router` value names. UsageError says what to write instead."""
    path = Path(text)
    inline = _INLINE.match(text)
    if path.exists() or (not (inline and "=" in inline.group(2)) and path.suffix.lower() in _FILE_SUFFIXES):
        router = _from_file(path)
    else:
        router = _inline(text)
    _refuse_inline_secrets(router)
    return RouterSpec(router=router, label=describe_router(router))


def plan_router(router: Router) -> RouterSpec:
    return RouterSpec(router=router, label=describe_router(router))
