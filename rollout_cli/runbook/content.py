"""The runbook's text: a pure function of the plan, the router's manual commands and the last drill.

Deterministic by construction — no generation time, people sorted, stages in plan order — so the
file can live in git and `rollout runbook check` can tell when it went stale.
"""

from __future__ import annotations

from rollout_cli.inert import markdown, markdown_block, markdown_code
from rollout_cli.plan.model import Plan, RollbackStep
from rollout_cli.runbook.words import (
    automatic_policy,
    describe_guard,
    guard_groups,
    inconclusive_policy,
    shell_line,
    shell_word,
    stage_share,
)
from rollout_cli.state.drills import DrillRecord
from rollout_cli.units import format_duration, format_fraction

DRILL_BEGIN = "<!-- drill on record -->"
DRILL_END = "<!-- end of drill on record -->"

# The shell variable naming the checkout: the runbook's commands work from any directory.
REPO_VARIABLE = "ROLLOUT_REPO"


def _seconds(value: float) -> str:
    return f"{value:.2f}s" if value < 60 else f"{value:.0f}s ({format_duration(round(value), weeks=False)})"


def _step_words(step: RollbackStep, adapter: str) -> str:
    if step.kind == "route":
        return f"`route: {step.value}` — send all traffic to the {step.value} through the router ({adapter})"
    if step.kind == "verify":
        return f"`verify: {step.value}` — read the router back until it reports the baseline alone"
    if step.kind == "run":
        timeout = f" (timeout {format_duration(step.timeout_s, weeks=False)})" if step.timeout_s else ""
        return f"{markdown_code('run: ' + ' '.join(str(a) for a in step.value))}{timeout}"
    return f"{markdown_code(f'notify: {step.value}')} — POST the rollback to the webhook"


def _people(plan: Plan, entries: tuple[str, ...]) -> list[str]:
    """Entries as people: `team:X` becomes "alice, bob (team `X`)", members sorted."""
    lines = []
    for entry in entries:  # as the plan lists them: the plan's order is deterministic
        if entry.startswith("team:"):
            team = entry[len("team:"):]
            members = ", ".join(sorted(plan.teams.get(team, ()))) or "nobody (the team has no members)"
            lines.append(f"{members} (team `{team}`)")
        else:
            lines.append(markdown(entry))
    return lines


def _triggers(plan: Plan, path: str) -> list[str]:
    confidence = f"{format_fraction(plan.decision.confidence)}"
    out = [
        "## 1. When to roll back",
        "",
        f"Roll back when, with {confidence} confidence, the candidate breaks any guard of the stage it is in:",
        "",
    ]
    for stages, guards in guard_groups(plan):
        label = "Stage" if len(stages) == 1 else "Stages"
        names = ", ".join(f"**{s.name}** ({stage_share(s)})" for s in stages)
        out.append(f"{label} {names}:")
        out.append("")
        out.extend(f"- {describe_guard(g, plan.segments)}" for g in guards)
        if not guards:
            out.append("- no guards: only the checks below apply")
        out.append("")
    out += [
        (
            "Also roll back on a **sample-ratio mismatch**: the units in each arm differ from the stage's planned "
            "split (an always-valid test, p < 0.001, however often the stage is looked at). The router is not "
            "splitting as planned, so no other number "
            "can be trusted."
        ),
        "",
        f"**No verdict in time**: {inconclusive_policy(plan)}",
        "",
        f"{automatic_policy(plan)} Too few units or stale logs never count as a pass: the stage holds.",
        "",
        f"See the current verdict: `rollout evaluate {path}`; the stage and split now: `rollout status {path}`.",
        "",
    ]
    return out


def _authority(plan: Plan) -> list[str]:
    rollback = plan.rollback
    approvers = "; ".join(_people(plan, rollback.approvers)) or "nobody (the plan names no approvers)"
    return [
        "## 2. Who may roll back",
        "",
        "- **may roll back** (`rollback.authority`): " + "; ".join(_people(plan, rollback.authority)),
        f"- **approve** gated stages and forced moves (`rollback.approvers`): {approvers}",
        "",
        ("A rollback needs no approval: anyone with authority runs it at once. Who you are is `--as NAME`, "
        "else `$ROLLOUT_ACTOR`, else your login name; every attempt, allowed or refused, goes into the audit trail. "
        "On a SQLite state store that name is self-asserted (taken on trust); on a PostgreSQL store it is your "
        "database role, and `--as` may only pick another of its names (docs/team.md)."),
        "",
    ]


def _commands(plan: Plan, path: str, manual: list[str]) -> list[str]:
    adapter = plan.router.adapter
    steps = plan.rollback.steps
    out = [
        "## 3. How to roll back",
        "",
        *markdown_block(f'rollout rollback {path} --reason "WHAT YOU SAW" --as YOUR_NAME', "sh"),
        "",
        (f"The commands here work from any directory once `{REPO_VARIABLE}` names your checkout of the repository "
         f"that holds this plan (`export {REPO_VARIABLE}=~/src/REPOSITORY`); without it, run them from the "
         "repository root. The rollout's state is found from the plan, not from the directory you are in."),
        "",
        "It runs these steps in order, timing each:",
        "",
    ]
    out += [f"{i}. {_step_words(step, adapter)}" for i, step in enumerate(steps, 1)]
    out += [
        "",
        ("Exit code 0: done and verified. Exit code 4: a step failed or the router could not be verified — "
        "the rollback is **not** done; finish it by hand as below. Exit code 5: you lack the authority (section 2)."),
        "",
        "### If the tool itself is broken",
        "",
        f"Send every request to the baseline by hand ({adapter} router):",
        "",
        *markdown_block("\n".join(manual), "sh"),
        "",
    ]
    runs = [s for s in steps if s.kind == "run"]
    if runs:
        out += ["Then run the plan's own steps by hand:", ""]
        out += [*markdown_block("\n".join(shell_line(s.value) for s in runs), "sh"), ""]
    if any(s.kind == "notify" for s in steps):
        out += ["The webhook has not fired: tell the contacts of section 7 yourself.", ""]
    return out


def _drill_block(plan: Plan, path: str, drill: DrillRecord | None) -> list[str]:
    out = [DRILL_BEGIN]
    if drill is None:
        out += [
            (f"No drill on record for this rollback section. Rehearse it: `rollout drill {path}` "
            "(then regenerate this runbook with the same `--state-dir`)."),
        ]
    else:
        when = drill.at.strftime("%Y-%m-%d %H:%M UTC")
        out += [
            (f"Last passing drill: {when} by {markdown(drill.actor)}, against {markdown_code(drill.router)} — "
            f"{_seconds(drill.duration_s)} of the {format_duration(drill.budget_s, weeks=False)} budget "
            f"(rollback section `{drill.rollback_digest}`)."),
            "",
            "| step | measured | outcome |",
            "| --- | --- | --- |",
        ]
        out += [f"| {markdown_code(s.name)} | {_seconds(s.duration_s)} | {markdown(s.outcome)} |" for s in drill.steps]
    out.append(DRILL_END)
    return out


def _duration(plan: Plan, path: str, drill: DrillRecord | None) -> list[str]:
    rollback = plan.rollback
    gate = (
        f"Traffic may not leave shadow without a passing drill in the last {format_duration(rollback.require_drill_s, weeks=False)} "
        "that rehearsed this exact rollback section."
        if rollback.require_drill_s is not None
        else "The plan does not require a drill before traffic (`rollback.require_drill` is not set)."
    )
    return [
        "## 4. How long it takes",
        "",
        (f"Budget for the whole rollback: **{format_duration(rollback.max_duration_s, weeks=False)}** (`rollback.max_duration`). "
        f"{gate} Rollback section digest: `{rollback.digest}`."),
        "",
        *_drill_block(plan, path, drill),
        "",
    ]


def _impact_and_verify(plan: Plan, path: str) -> list[str]:
    impact = markdown(plan.rollback.user_impact) or "The plan does not say (`rollback.user_impact` is empty)."
    predictions = plan.data.predictions.describe()
    arm, served = plan.data.column("arm"), plan.data.column("served")
    return [
        "## 5. What users see meanwhile",
        "",
        impact,
        "",
        "## 6. How to verify it worked",
        "",
        (f"1. `rollout status {path}` reports status `rolled_back`, candidate traffic 0% and shadow 0% — "
        "read back from the router, not from what was written."),
        f"2. `rollout history {path}` shows the rollback: who, when, why, and each step's time and outcome.",
        (f"3. In the prediction log ({markdown_code(predictions)}), rows with {markdown_code(arm + ' = ' + repr('candidate'))} and {markdown_code(served)} true "
        "stop from the moment of the rollback."),
        "",
    ]


def _contacts(plan: Plan) -> list[str]:
    out = ["## 7. Whom to call", ""]
    out += [f"- {markdown(c)}" for c in plan.rollback.contacts] or ["- the plan lists no contacts (`rollback.contacts`)"]
    if plan.owner:
        out.append(f"- the plan's owner: {markdown(plan.owner)}")
    return out + [""]


def render_runbook(plan: Plan, path: str, manual: list[str], drill: DrillRecord | None) -> str:
    """The whole runbook for `plan`, loaded from `path` (as written in the commands)."""
    models = f"Candidate {markdown_code(plan.candidate)} replaces baseline {markdown_code(plan.baseline)}"
    plain = shell_word(path)  # pasted into a shell at 3am: a path with a space stays one word
    # From any directory: the plan's path from the repository root, under $ROLLOUT_REPO when set
    # (the state is found from the plan itself, docs/on-call.md).
    command_path = f'"${{{REPO_VARIABLE}:-.}}"/{plain}'
    lines = [
        f"# Rollback runbook: {plan.name}",
        "",
        f"<!-- Generated by `rollout runbook generate {plain}`. Do not edit: change the plan and regenerate. -->",
        "",
        (f"{markdown(plan.description.strip().rstrip('.'))}. " if plan.description.strip() else "")
        + f"{models}. Plan: {markdown_code(path)}. Router: `{plan.router.adapter}`.",
        "",
        f"A rollback sends every request to the baseline {markdown_code(plan.baseline)} and stops mirroring to the candidate.",
        "",
    ]
    lines += _triggers(plan, command_path)
    lines += _authority(plan)
    lines += _commands(plan, command_path, manual)
    lines += _duration(plan, command_path, drill)
    lines += _impact_and_verify(plan, command_path)
    lines += _contacts(plan)
    return "\n".join(lines).rstrip("\n") + "\n"
