"""The commented starter plan `rollout plan init` writes: valid as written, every section explained."""

from __future__ import annotations

import re

from rollout_cli.errors import UsageError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

_TEMPLATE = """\
# yaml-language-server: $schema=plan.schema.json
# Rollout plan for {name}. Reference: docs/plan.md. Check it with: rollout plan validate {path}
# Editors with a YAML language server complete and check this file against plan.schema.json
# (written next to it; refresh it after upgrading with: rollout plan schema > plan.schema.json)

version: 1                        # the plan format; always 1
name: {name}                      # names the state, the audit trail and runbooks/{name}.md
description: What is being rolled out, and why
owner: my-team                    # the team that owns the model

models:
  baseline: {name}-current        # what serves today
  candidate: {name}-next          # what is being rolled out

# How traffic is split. `file` keeps the split in a JSON file, nothing to run; for real traffic
# use nginx, haproxy or http (see docs/plan.md for their options).
router:
  adapter: file
  options: {{path: routers/{name}.json}}

# The logs rollout reads (docs/data.md): files or globs (parquet, csv, json, jsonl), or
# {{database: FILE.duckdb, table: NAME}}. Relative paths resolve against the current directory.
data:
  predictions: logs/{name}/predictions/*.parquet   # one row per model answer
  outcomes: logs/{name}/outcomes/*.parquet         # one row per user event (purchase, click, ...)
  columns: {{unit_id: user_id}}                      # role: your column name; unmapped roles keep their name

segments: [country, platform]     # prediction-log columns to break every result down by

# What can be measured. proportion: share of units with an event (or of answers with a true
# column); mean: outcome values per unit (or a column); quantile: of a column; agreement:
# shadow answers against the baseline's on the same request.
metrics:
  conversion:  {{kind: proportion, event: purchase, window: 1h}}
  latency_p99: {{kind: quantile, column: latency_ms, q: 0.99}}
  error_rate:  {{kind: proportion, column: error}}
  agreement:   {{kind: agreement, tolerance: 0.05}}

# Guards every traffic stage checks unless it lists its own. Relative limits compare with the
# baseline (max_drop, max_increase); absolute ones bound the candidate (min, max).
guards:
  - {{metric: conversion, max_drop: 2%, per_segment: true}}
  - {{metric: latency_p99, max_increase: 10%}}
  - {{metric: error_rate, max: 1%}}

# The ramp: shadow first (the candidate answers mirrored requests, users see none of it), then
# traffic shares that rise stage by stage to 100%.
stages:
  - name: shadow
    shadow: 100%
    min_duration: 24h
    guards:                       # shadow answers cause no user outcomes: guard what they can show
      - {{metric: agreement, min: 90%}}
      - {{metric: latency_p99, max: 250}}
  - {{name: canary, traffic: 1%, min_duration: 2h, min_units: 1000}}
  - {{name: ramp-10, traffic: 10%, min_duration: 6h}}
  - {{name: ramp-50, traffic: 50%, min_duration: 12h, approval: required}}
  - {{name: full, traffic: 100%}}

# How verdicts are reached and acted on.
decision:
  confidence: 95%                 # every pass or fail is claimed with this confidence
  max_duration: 72h               # a stage with no verdict by then gets on_inconclusive
  on_inconclusive: hold           # hold | rollback
  auto_advance: true              # advance when a stage passes
  auto_rollback: true             # roll back when a stage fails

# People who may act, referred to as team:NAME below.
teams:
  oncall: [alice, bob]

# The rollback, written down before it is needed and practised with `rollout drill`.
rollback:
  authority: [team:oncall]        # who may roll back, and advance by hand
  approvers: [alice]              # who may pass `approval: required` gates or force an advance
  max_duration: 10m               # the budget for a whole rollback; drills must beat it
  require_drill: 14d              # traffic may not leave shadow without a passing drill this recent
  steps:
    - route: baseline             # all traffic back to the baseline, through the router
    - verify: router              # read the router back until it reports the baseline alone
    # - run: [kubectl, scale, deploy/{name}-next, --replicas=0]
    #   timeout: 2m
    # - notify: ${{env:ROLLOUT_WEBHOOK}}     # secrets only by reference, never inline
  user_impact: >
    Users in the candidate arm get the baseline's answers from their next request on.
  contacts: ["#my-team-oncall"]
"""


def valid_plan_name(name: str) -> str:
    """`name` if it can name a plan (and its files), else UsageError."""
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"{name!r} cannot name a plan: use letters, digits, '.', '_' and '-' (no spaces), "
            "starting with a letter or digit, at most 64 characters"
        )
    return name


def starter_plan(name: str, path: str) -> str:
    """The starter plan's YAML for a rollout called `name`, to be written at `path`."""
    return _TEMPLATE.format(name=valid_plan_name(name), path=path)
