"""Help a person can read at 3am, a router set up by the tool, and router rules `validate` can check
without the network."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rollout_cli.cli.run_view import run_table
from rollout_cli.plan.document import plan_yaml


def plan_document(adapter: str, options: dict[str, object], share: str) -> dict[str, object]:
    return {
        "version": 1, "name": "churn", "models": {"baseline": "v1", "candidate": "v2"},
        "router": {"adapter": adapter, "options": options},
        "data": {"predictions": "logs/predictions/*.csv"},
        "metrics": {"error_rate": {"kind": "proportion", "column": "error"}},
        "guards": [{"metric": "error_rate", "max": "5%"}],
        "stages": [{"name": "shadow", "shadow": "100%"}, {"name": "ramp-25", "traffic": share},
                   {"name": "full", "traffic": "100%"}],
        "rollback": {"authority": ["alice"], "max_duration": "5m",
                     "steps": [{"route": "baseline"}, {"verify": "router"}]},
    }


def rollout(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "100", **env}
    full.pop("ROLLOUT_STATE_DIR", None)
    return subprocess.run([sys.executable, "-m", "rollout_cli", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=60, check=False)


def plan_file(tmp_path: Path, adapter: str, options: dict[str, object], share: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(plan_yaml(plan_document(adapter, options, share)))
    return path


def test_help_has_no_type_placeholders_and_groups_have_examples(tmp_path: Path) -> None:
    status = rollout(["status", "--help"], cwd=tmp_path).stdout
    assert "Usage: rollout status [OPTIONS] PLAN" in status and "{PLAN}" not in status
    assert "<bool>" not in status
    for group in ("plan", "runbook", "router"):
        assert "Example: rollout " + group in " ".join(rollout([group, "--help"], cwd=tmp_path).stdout.split())


def test_stage_completion_offers_the_plans_stages(tmp_path: Path) -> None:
    plan = plan_file(tmp_path, "file", {"path": str(tmp_path / "router.json")}, "25%")
    done = rollout(["evaluate"], cwd=tmp_path, _ROLLOUT_COMPLETE="complete_bash",
                   COMP_WORDS=f"rollout evaluate {plan.name} --stage r", COMP_CWORD="4")
    assert done.stdout.split() == ["ramp-25"]


@pytest.mark.parametrize(("adapter", "options", "share", "message"), [
    ("haproxy", {"socket": "/run/h.sock", "backend": "be", "baseline_server": "a", "candidate_server": "b"}, "25%",
     "$.stages[0].shadow: router haproxy: a shadow share (100%) on HAProxy needs the router option shadow_file"),
    ("haproxy", {"socket": "/run/h.sock", "backend": "be", "baseline_server": "a", "candidate_server": "b",
                 "shadow_file": "/tmp/mirror.json"}, "33.33%",
     "$.stages[1].traffic: router haproxy: HAProxy weights (0..256) cannot serve exactly 33.33% to the candidate"),
    ("nginx", {"config_path": "/tmp/x.conf", "baseline": "127.0.0.1:1", "candidate": "127.0.0.1:2"}, "0.125%",
     "$.stages[1].traffic: router nginx: nginx split_clients cannot express 0.125% (at most two decimals); "
     "use 0.12% instead"),
])
def test_validate_checks_what_the_router_cannot_serve(tmp_path: Path, adapter: str, options: dict[str, object],
                                                      share: str, message: str) -> None:
    done = rollout(["plan", "validate", str(plan_file(tmp_path, adapter, options, share))], cwd=tmp_path,
                   COLUMNS="300")
    assert done.returncode == 2
    assert message in done.stdout
    assert len(re.findall(r"router (haproxy|nginx):", done.stdout)) == 1


def test_router_setup_prints_then_writes_and_never_overwrites(tmp_path: Path) -> None:
    include = tmp_path / "nginx" / "rollout.conf"
    options = {"config_path": str(include), "baseline": "127.0.0.1:1", "candidate": "127.0.0.1:2",
               "split_key": "${http_x_user_id}", "status_url": "http://127.0.0.1:8080/_rollout/split"}
    plan = plan_file(tmp_path, "nginx", options, "25%")
    printed = rollout(["router", "setup", str(plan)], cwd=tmp_path)
    assert printed.returncode == 0 and not include.exists()  # printing writes nothing
    assert 'split_clients "${http_x_user_id}" $rollout_arm' in printed.stdout
    assert "location = /_rollout/split {" in printed.stdout and "mirror /_rollout_shadow;" in printed.stdout
    written = rollout(["router", "setup", str(plan), "--write", "--json"], cwd=tmp_path)
    assert written.returncode == 0 and json.loads(written.stdout)["written"] == [str(include)]
    assert "* baseline;" in include.read_text()
    include.write_text("# someone's live include\n")
    refused = rollout(["router", "setup", str(plan), "--write"], cwd=tmp_path)
    assert refused.returncode == 2 and "not overwriting" in refused.stderr
    assert include.read_text() == "# someone's live include\n"
    assert rollout(["router", "setup", str(plan), "--write", "--force"], cwd=tmp_path).returncode == 0
    assert "* baseline;" in include.read_text()


@pytest.mark.servers
def test_the_written_include_lets_nginx_start(tmp_path: Path) -> None:
    import shutil

    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (scripts/test installs it)")
    include = tmp_path / "rollout.conf"
    options = {"config_path": str(include), "baseline": "127.0.0.1:1", "candidate": "127.0.0.1:2"}
    plan = plan_file(tmp_path, "nginx", options, "25%")
    doc = json.loads(rollout(["router", "setup", str(plan), "--write", "--json"], cwd=tmp_path).stdout)
    server = next(p["text"] for p in doc["pieces"] if p["path"] is None)
    conf = tmp_path / "nginx.conf"
    (tmp_path / "logs").mkdir()
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
                    f"  include {include};\n  server {{\n    listen 127.0.0.1:1;\n{server}  }}\n}}\n")
    check = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def test_the_live_view_shows_the_newest_ticks() -> None:
    rows = [{"at": f"2026-01-05T00:{i:02d}:00+00:00", "from_stage": "canary", "evaluation": None, "decision": "hold",
             "reason": f"reason {i}"} for i in range(40)]
    from rich.console import Console

    console = Console(width=80, height=45, record=True)
    console.print(run_table("rollout x", rows, 45))
    text = console.export_text()
    assert "reason 39" in text and "reason 0 " not in text and "earlier ticks not shown" in text


@pytest.mark.parametrize("columns", ["60", "40", "200"])
def test_plan_show_never_cuts_a_stage_name_or_a_word(tmp_path: Path, columns: str) -> None:
    assert rollout(["plan", "init", "churn"], cwd=tmp_path).returncode == 0
    text = rollout(["plan", "show", "plans/churn.yaml"], cwd=tmp_path, COLUMNS=columns).stdout
    for word in ("ramp-10", "ramp-50", "duration"):
        assert re.search(rf"(?<![\w-]){word}(?![\w-])", text), f"{word} cut at {columns} columns"
    assert not re.search(r"ramp-[15]\s*[│┃]", text)
