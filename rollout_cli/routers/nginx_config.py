"""The text of the nginx include the `nginx` router owns, and reading it back.

The include lives in the `http` context and holds only the decision: two upstreams, which arm
serves a request, and whether it is mirrored. The server that uses it is written once, by a
person, from `server_snippet()` (docs/routers.md shows it):

    upstream rollout_baseline  { server 10.0.0.1:8080; }
    upstream rollout_candidate { server 10.0.0.2:8080; }
    split_clients "${request_id}" $rollout_arm { 10% candidate; * baseline; }
    split_clients "shadow${request_id}" $rollout_shadow { 50% on; * off; }
    map "$rollout_arm:$rollout_shadow" $rollout_mirror { "baseline:on" 1; default 0; }
    map $rollout_arm $rollout_upstream { candidate rollout_candidate; default rollout_baseline; }
    map $request_id $rollout_split { default "candidate_traffic=10 shadow=50"; }

Why this shape:
- split_clients, not upstream weights: nginx rejects `weight=0`, and 0% / 100% are simply
  `* baseline;` / `* candidate;`. Hashing `$request_id` splits requests (docs/data.md says units
  should be assigned; hash a unit key instead with option split_key, e.g. "${cookie_uid}").
- shadow: `mirror` is all or nothing per location, so the location always mirrors into an
  internal location that answers 204 at once unless `$rollout_mirror` is 1 (an `if` that only
  `return`s, the one safe use of `if`). A second split_clients on a different key picks the
  mirrored share independently of the arm; a request the candidate already serves is not
  mirrored to it again.
- `$rollout_split` lets a status location report the split the running workers loaded.
"""

from __future__ import annotations

import re

from rollout_cli.errors import RouterError
from rollout_cli.routers.base import RouterSplit
from rollout_cli.units import format_share

HEADER = "# Managed by `rollout` (nginx router). Edits are overwritten by the next apply.\n"


def share_text(share: float) -> str:
    """A split_clients percentage ("10%", "2.5%"); nginx keeps two decimals at most."""
    expressible = round(share, 2)
    if abs(expressible - share) > 1e-9:
        raise RouterError(
            f"nginx split_clients cannot express {format_share(share)} (at most two decimals)",
            hint=f"use {format_share(expressible)} instead",
        )
    return format_share(expressible)


def _split_clients(key: str, variable: str, share: float, on: str, off: str) -> str:
    if share >= 100:
        body = f"    * {on};\n"
    elif share <= 0:
        body = f"    * {off};\n"
    else:
        body = f"    {share_text(share)} {on};\n    * {off};\n"
    return f'split_clients "{key}" ${variable} {{\n{body}}}\n'


def render_include(name: str, split: RouterSplit, baseline: str, candidate: str, split_key: str) -> str:
    """The include serving `split` between the two backend addresses."""
    return (
        HEADER
        + f"upstream {name}_baseline {{\n    server {baseline};\n}}\n"
        + f"upstream {name}_candidate {{\n    server {candidate};\n}}\n"
        + _split_clients(split_key, f"{name}_arm", split.candidate_traffic, "candidate", "baseline")
        + _split_clients(f"shadow{split_key}", f"{name}_shadow", split.shadow, "on", "off")
        + f'map "${name}_arm:${name}_shadow" ${name}_mirror {{\n    "baseline:on" 1;\n    default 0;\n}}\n'
        + f"map ${name}_arm ${name}_upstream {{\n    candidate {name}_candidate;\n    default {name}_baseline;\n}}\n"
        + f'map $request_id ${name}_split {{\n    default "{status_text(split)}";\n}}\n'
    )


def status_text(split: RouterSplit) -> str:
    return f"candidate_traffic={split.candidate_traffic:g} shadow={split.shadow:g}"


def parse_status(text: str) -> RouterSplit | None:
    match = re.fullmatch(r"\s*candidate_traffic=([\d.]+) shadow=([\d.]+)\s*", text)
    return RouterSplit(float(match.group(1)), float(match.group(2))) if match else None


def _share_of(text: str, variable: str, on: str, off: str, where: str) -> float:
    block = re.search(r"split_clients\s+\"[^\"]*\"\s+\$" + re.escape(variable) + r"\s*\{([^}]*)\}", text)
    if not block:
        raise RouterError(f"{where} has no split_clients block for ${variable}",
                          hint="it was not written by the nginx router; apply a split to rewrite it")
    shares = {on: 0.0, off: 0.0}
    for line in block.group(1).split(";"):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in shares:
            raise RouterError(f"{where}: unexpected line {line.strip()!r} in split_clients ${variable}")
        value, target = parts
        if value == "*":  # the rest of the requests
            shares[target] += 100.0 - shares[on] - shares[off]
            break
        try:
            shares[target] += float(value.removesuffix("%")) if value.endswith("%") else float("nan")
        except ValueError:
            shares[target] = float("nan")
        if shares[target] != shares[target]:
            raise RouterError(f"{where}: unexpected share {value!r} in split_clients ${variable}")
    return shares[on]


def parse_include(text: str, name: str, where: str) -> RouterSplit:
    """The split an include serves, from its split_clients directives (not from any comment)."""
    return RouterSplit(
        candidate_traffic=_share_of(text, f"{name}_arm", "candidate", "baseline", where),
        shadow=_share_of(text, f"{name}_shadow", "on", "off", where),
    )


def server_snippet(name: str = "rollout", status_path: str = "/_rollout/split") -> str:
    """The locations a person adds once to the `server` that serves the model."""
    return f"""\
location / {{
    mirror /_{name}_shadow;
    proxy_set_header X-Request-ID $request_id;
    proxy_set_header X-Rollout-Arm ${name}_arm;
    add_header X-Request-ID $request_id always;
    proxy_pass http://${name}_upstream;
}}
location = /_{name}_shadow {{
    internal;
    if (${name}_mirror = 0) {{
        return 204;
    }}
    proxy_set_header X-Request-ID $request_id;
    proxy_set_header X-Rollout-Shadow 1;
    proxy_ignore_client_abort on;
    proxy_pass http://{name}_candidate$request_uri;
}}
location = {status_path} {{
    default_type text/plain;
    return 200 "${name}_split\\n";
}}
"""
