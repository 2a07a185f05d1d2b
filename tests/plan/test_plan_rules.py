"""Rules checked on small in-memory plans: adapters from installed packages (found without
importing them), shares that both serve and mirror, and tolerance of wrong shapes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from plan_paths import GOOD

from rollout_cli.plan.load import load_plan_text
from rollout_cli.plan.validate import validate_document

MINIMAL = yaml.safe_load((GOOD / "minimal.yaml").read_text())


def problems(plan: dict) -> list[str]:
    doc = load_plan_text(yaml.safe_dump(plan, sort_keys=False), "p.yaml")
    return [f"{p.path}: {p.message}" for p in validate_document(doc)]


def with_adapter(name: str) -> dict:
    return {**MINIMAL, "router": {"adapter": name, "options": {"anything": "goes"}}}


def test_an_installed_plugin_adapter_is_known_without_importing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "rollout_envoy-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rollout-envoy\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[rollout.routers]\nenvoy = rollout_envoy_missing_module:EnvoyRouter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert problems(with_adapter("envoy")) == []
    assert "rollout_envoy_missing_module" not in sys.modules
    assert problems(with_adapter("envoyy")) == [
        "$.router.adapter: unknown router adapter 'envoyy' (did you mean 'envoy'?)"
    ]


def test_an_unknown_adapter_lists_the_known_ones() -> None:
    assert problems(with_adapter("istio")) == [
        "$.router.adapter: unknown router adapter 'istio' (known: file, haproxy, http, nginx)"
    ]


def test_validation_imports_no_heavy_library_and_no_network_client() -> None:
    """The built-in routers check their options during validation, but nothing that could talk
    to a network (or discover plugins) is even imported."""
    import subprocess

    code = (
        "import sys; from rollout_cli.plan import load_plan; load_plan('plans/ranker-v42.yaml'); "
        "heavy = [m for m in ('duckdb', 'polars', 'requests', 'numpy', 'urllib.request', 'http.client', "
        "'importlib.metadata') if m in sys.modules]; "
        "print(heavy)"
    )
    root = GOOD.parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_traffic_without_any_shadow_stage_before_it_is_refused() -> None:
    plan = {**MINIMAL, "stages": [{"name": "idle"}, {"name": "canary", "traffic": "5%"}, MINIMAL["stages"][1]]}
    assert problems(plan) == [
        "$.stages[0]: stage 'idle' sends nothing to the candidate: give it traffic (a share served) or shadow "
        "(a share mirrored)",
        "$.stages[1].traffic: stage 'canary' serves 5% of traffic with no shadow stage before it; start with a "
        "shadow stage (e.g. shadow: 100%) so the candidate answers real requests before it serves any",
    ]


def test_a_stage_may_serve_and_mirror() -> None:
    plan = {
        **MINIMAL,
        "stages": [MINIMAL["stages"][0], {"name": "mixed", "traffic": "5%", "shadow": "50%"}, MINIMAL["stages"][1]],
    }
    assert problems(plan) == []


@pytest.mark.parametrize(
    "section", ["stages", "guards", "metrics", "rollback", "teams", "data", "router", "decision", "segments", "drift"]
)
@pytest.mark.parametrize("wrong", ["text", 7, None, [], {}, [[1]], [{"x": 1}]])
def test_a_section_of_the_wrong_shape_is_reported_not_crashed_on(section: str, wrong: object) -> None:
    found = problems({**MINIMAL, section: wrong})
    if (section, repr(wrong)) in EMPTY_BUT_VALID:
        assert found == []
        return
    assert found and all(line.startswith("$") for line in found)
    # the section itself is named, or (no guards at all) the stages left without one
    assert any(line.startswith((f"$.{section}", "$:", "$.stages")) for line in found), found


# Sections that may be empty: no team, the default decision, no segment, no drift check.
EMPTY_BUT_VALID = {("teams", "{}"), ("decision", "{}"), ("segments", "[]"), ("drift", "{}")}


def test_all_problems_come_at_once_schema_and_rules_together() -> None:
    plan = {
        **MINIMAL,
        "version": 3,
        "stages": [{"name": "full", "traffic": "100%"}],
        "rollback": {**MINIMAL["rollback"], "authority": ["team:ghosts"]},
    }
    assert problems(plan) == [
        "$.version: must be 1, not 3",
        "$.stages[0].traffic: stage 'full' serves 100% of traffic with no shadow stage before it; start with a "
        "shadow stage (e.g. shadow: 100%) so the candidate answers real requests before it serves any",
        "$.rollback.authority[0]: team 'ghosts' is not defined in teams (the plan defines no teams)",
    ]


def test_every_example_plan_builds_its_router_without_touching_it() -> None:
    from plan_paths import EXAMPLES

    from rollout_cli.plan import load_plan
    from rollout_cli.routers.registry import options_problems

    for path in EXAMPLES:
        plan = load_plan(path)
        assert options_problems(plan.router.adapter, plan.router.options) == [], path.name


def test_references_and_places_of_secrets_are_not_inline_secrets() -> None:
    """What the inline-secret rule must let through: references, a user without a password, a
    file that holds the secret, an option whose value is another option."""
    plan = {
        **MINIMAL,
        "router": {"adapter": "http", "options": {"url": "https://${env:R_USER}:${env:R_PASSWORD}@router/split"}},
        "rollback": {
            **MINIMAL["rollback"],
            "steps": [
                {"route": "baseline"},
                {"notify": "https://deploy@hooks.example.com/x?channel=ops&token=${env:HOOK_TOKEN}"},
                {"run": ["db", "--password-file", "/run/secrets/db", "--token", "--verbose", "-H", "Authorization: ${env:AUTH}"]},
            ],
        },
    }
    assert problems(plan) == []


def test_a_duration_that_cannot_be_zero_is_refused_and_one_that_means_none_is_not() -> None:
    plan = {**MINIMAL, "decision": {"freshness": "0s", "settling_time": "0s"},
            "rollback": {**MINIMAL["rollback"], "require_drill": "0d", "max_duration": "0m"},
            "stages": [{**MINIMAL["stages"][0], "min_duration": "0s"}, MINIMAL["stages"][1]]}
    found = dict(f.split(": ", 1) for f in problems(plan))
    assert sorted(found) == ["$.decision.freshness", "$.rollback.max_duration", "$.rollback.require_drill"], found
    assert "every row would be stale" in found["$.decision.freshness"]
    assert found["$.rollback.require_drill"].endswith("write a positive duration")
