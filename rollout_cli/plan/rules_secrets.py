"""Secrets in a plan (docs/plan.md#secrets): only `${env:NAME}` references, never the secret itself.

References are checked for form only; their values are never looked up. A secret written
inline is reported without quoting it: the report lands in CI logs and pull-request
annotations, and a plan's text ends up in runbooks and audit entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from rollout_cli.plan.load import child_path
from rollout_cli.plan.rules_common import RuleContext, as_list, as_mapping, leaves
from rollout_cli.secrets import malformed_references

SECRET_KEY = re.compile(r"token|password|passwd|secret|api[_-]?key|credential", re.IGNORECASE)
# `--password-file /run/secrets/db` names where a secret is, which is fine.
_NAMES_A_PLACE = re.compile(r"(file|path|env|var)$", re.IGNORECASE)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_AUTH_HEADER = re.compile(r"^\s*(proxy-)?authorization\s*:", re.IGNORECASE)
_OPTION = re.compile(r"^--?([A-Za-z][A-Za-z0-9_-]*)(=(.*))?$", re.DOTALL)
_BY_REFERENCE = "plans hold secrets only by reference, e.g. ${env:NAME}"


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    return ((where, leaf) for where, leaf in leaves(value, path) if isinstance(leaf, str))


def _literal(value: str) -> bool:
    """A value written out, not (an attempt at) a reference; a malformed one is reported apart."""
    return bool(value) and "${" not in value


def _secret_name(name: str) -> bool:
    return bool(SECRET_KEY.search(name)) and not _NAMES_A_PLACE.search(name)


def url_secret(text: str) -> str | None:
    """What in the URL `text` is a secret written inline (a password, a secret query parameter)."""
    if not _URL.match(text):
        return None
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:  # a malformed URL is no secret of ours to find
        return None
    if password is not None and _literal(password):
        return "a password in the URL (user:password@)"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _secret_name(key) and _literal(value):
            return f"the URL parameter {key!r}"
    return None


def _run_secrets(argv: list[Any], path: str) -> Iterator[tuple[str, str]]:
    """(path, what) for secrets written into a `run` step's arguments."""
    for i, arg in enumerate(argv):
        if not isinstance(arg, str):
            continue
        where = child_path(path, i)
        if _AUTH_HEADER.match(arg) and _literal(arg.split(":", 1)[1].strip()):
            yield where, "an Authorization header"
            continue
        option = _OPTION.match(arg)
        if option is None or not _secret_name(option.group(1)):
            continue
        following = argv[i + 1] if i + 1 < len(argv) and isinstance(argv[i + 1], str) else ""
        if option.group(2) is not None:  # --password=VALUE
            if _literal(option.group(3)):
                yield where, f"the value of {arg.split('=', 1)[0]}"
        elif _literal(following) and not following.startswith("-"):  # --password VALUE
            yield child_path(path, i + 1), f"the value of {arg}"


# Options whose `${…}` are the router's own variables, not references: nginx's split_key is an nginx
# expression such as ${http_x_user_id} or ${cookie_uid} (docs/routers.md).
_ROUTER_VARIABLES = {"nginx": ("split_key",)}


def rule_secrets(ctx: RuleContext) -> None:
    router = ctx.section("router")
    own = {child_path("$.router.options", key) for key in _ROUTER_VARIABLES.get(str(router.get("adapter")), ())}
    for path, text in _strings(ctx.doc.data, "$"):
        if path in own:
            continue
        for fragment in malformed_references(text):
            ctx.report(path, f"malformed reference {fragment!r}: write ${{env:NAME}} (NAME: letters, digits, _)")
        inline = url_secret(text)
        if inline:
            ctx.report(path, f"{inline} looks like a secret written inline; {_BY_REFERENCE}")
    for key, value in as_mapping(ctx.section("router").get("options")).items():
        if SECRET_KEY.search(str(key)) and isinstance(value, str) and _literal(value):
            ctx.report(
                child_path("$.router.options", str(key)),
                f"option {key!r} looks like a secret written inline; plans hold secrets only by reference, e.g. ${{env:ROUTER_TOKEN}}",
            )
    for i, step in enumerate(as_list(ctx.section("rollback").get("steps"))):
        run = as_mapping(step).get("run")
        if isinstance(run, list):
            for path, what in _run_secrets(run, f"$.rollback.steps[{i}].run"):
                ctx.report(path, f"{what} looks like a secret written inline; {_BY_REFERENCE}")
