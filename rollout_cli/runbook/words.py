"""Rollback triggers in plain words, for people who did not write the plan.

The runbook is read at 3am by someone who may never have opened the YAML, so every number
the controller acts on is spelled out with its unit. Guards themselves are worded by
`plan.describe.describe_guard`, the same sentences `plan show` prints. Everything here is a pure
function of the plan: same plan, same words.
"""

from __future__ import annotations

import shlex

from rollout_cli.plan.describe import describe_guard as guard_sentence
from rollout_cli.plan.model import Guard, Plan, Stage
from rollout_cli.secrets import ENV_REFERENCE
from rollout_cli.units import format_duration, format_share


def shell_word(arg: str) -> str:
    """`arg` as one word a POSIX shell reads back exactly, with `${env:NAME}` as the variable
    `"${NAME}"` (still a reference: the runbook never holds its value). Literal text stays in
    single quotes, where an interactive shell expands nothing, not even `!`."""
    if not ENV_REFERENCE.search(arg):
        return shlex.quote(arg)
    parts = ENV_REFERENCE.split(arg)  # text, name, text, name, …, text
    return "".join(f'"${{{part}}}"' if i % 2 else shlex.quote(part) for i, part in enumerate(parts) if part)


def shell_line(argv: tuple[object, ...] | list[object]) -> str:
    """A `run` step's argv as the command line an on-call engineer can paste."""
    return " ".join(shell_word(str(arg)) for arg in argv)


def describe_guard(guard: Guard, segments: tuple[str, ...] = ()) -> str:
    """The guard's sentence, naming the segments a per-segment guard is checked in."""
    sentence = guard_sentence(guard)
    if guard.per_segment and segments:
        sentence += f" ({', '.join(segments)})"
    return sentence


def stage_share(stage: Stage) -> str:
    if stage.is_shadow:
        return f"shadow {format_share(stage.shadow)}, serves nothing"
    extra = f", shadow {format_share(stage.shadow)}" if stage.shadow else ""
    return f"{format_share(stage.traffic)} of traffic{extra}"


def guard_groups(plan: Plan) -> list[tuple[list[Stage], tuple[Guard, ...]]]:
    """Stages that share the same guards, in plan order, so the runbook lists each set once."""
    groups: list[tuple[list[Stage], tuple[Guard, ...]]] = []
    for stage in plan.stages:
        for stages, guards in groups:
            if guards == stage.guards:
                stages.append(stage)
                break
        else:
            groups.append(([stage], stage.guards))
    return groups


def inconclusive_policy(plan: Plan) -> str:
    """What happens to a stage that reaches no verdict, in words."""
    decision = plan.decision
    if decision.max_duration_s is None:
        return (
            "a stage with no verdict yet holds where it is (nothing changes) for as long as it takes; "
            "the plan sets no `decision.max_duration`."
        )
    limit = format_duration(decision.max_duration_s, weeks=False)
    if decision.on_inconclusive == "rollback":
        return f"a stage that has no verdict after {limit} is rolled back (`on_inconclusive: rollback`)."
    return (
        f"a stage that has no verdict after {limit} holds (`on_inconclusive: hold`): traffic stays where "
        "it is and a person decides between `rollout advance` and `rollout rollback`."
    )


def automatic_policy(plan: Plan) -> str:
    if plan.decision.auto_rollback:
        return "The controller (`rollout run` / `rollout tick`) rolls back by itself when a stage fails."
    return (
        "The controller does **not** roll back by itself (`auto_rollback: false`): when a stage fails it "
        "holds and a person with authority must run the rollback below."
    )
