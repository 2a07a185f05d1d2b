"""state init | check | copy on a real PostgreSQL, identity from the database role, and an audit
trail the database itself keeps append-only."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from rollout_support import T0, router_split, write_plan
from rollout_support import run_in_process as run

from rollout_cli.plan import load_plan
from rollout_cli.routers.base import RouterSplit
from rollout_cli.state import pg_schema
from rollout_cli.state.locate import open_store
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout


def test_init_check_and_migrations_keep_every_audit_row(here: Path, pg_cluster, capsys) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.new_database(init=False)
    code, out, _ = run(capsys, "state", "check", "--state", url, "--json")
    assert code == 2 and "no rollout schema" in json.loads(out)["problems"][0]
    with pg_cluster.admin(url.rsplit("/", 1)[1]) as conn:  # an older version in use, with audit rows
        pg_schema.migrate(conn, to=1)
        for i in range(50):
            conn.execute("INSERT INTO events (plan, at, actor, action, allowed, reason) VALUES "
                         "('ranker', %s, 'alice', 'hold', 1, 'r')", (T0.isoformat(),))
    code, out, _ = run(capsys, "state", "check", "--state", url, "--json")
    assert code == 2 and json.loads(out)["problems"][0].startswith("the schema is version 1")
    code, out, _ = run(capsys, "state", "init", "--state", url, "--json")
    assert (code, json.loads(out)["applied"], json.loads(out)["version"]) == (0, [2, 3], pg_schema.LATEST)
    code, out, _ = run(capsys, "state", "check", "--state", url, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["problems"] == [] and doc["identity"].startswith("verified")
    assert len(open_store(url).events("ranker")) == 50  # the migration lost no audit row
    assert run(capsys, "state", "init", "--state", url, "--json")[1].count('"applied": []') == 1  # idempotent


def test_a_password_in_the_url_is_refused_and_never_printed(here: Path, capsys) -> None:
    code, out, err = run(capsys, "status", str(write_plan(here)), "--state",
                         "postgresql://bob:hunter22@127.0.0.1:1/rollout")
    assert code == 2 and "carries a password" in err and "hunter22" not in out + err


def test_the_database_role_is_the_actor_and_as_may_only_narrow_it(here: Path, pg_cluster, capsys) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.new_database()
    for role in ("rollout_bob", "rollout_mallory"):
        pg_cluster.role(role)
    database = url.rsplit("/", 1)[1]
    code, out, _ = run(capsys, "state", "init", "--state", url, "--grant", "rollout_bob=bob,oncall-bob",
                       "--grant", "rollout_mallory=mallory", "--json")
    assert code == 0 and len(json.loads(out)["granted"]) == 2
    plan = str(write_plan(here))
    bob, mallory = pg_cluster.url(database, "rollout_bob"), pg_cluster.url(database, "rollout_mallory")
    # mallory's role claims to be carol (an approver): refused whatever --as says, and audited
    code, _, err = run(capsys, "start", plan, "--state", mallory, "--as", "carol")
    assert code == 5 and "database role rollout_mallory may not act as carol" in err
    code, _, err = run(capsys, "start", plan, "--state", mallory)  # as herself: not in rollback.authority
    assert code == 5 and "mallory may not start ranker" in err
    assert run(capsys, "start", plan, "--state", bob)[0] == 0  # bob's role acts as bob
    assert router_split(here) == RouterSplit(0, 100)
    code, out, _ = run(capsys, "history", plan, "--state", bob, "--json")
    events = [(e["actor"], e["action"], e["allowed"]) for e in json.loads(out)["events"]]
    assert events == [("rollout_mallory", "start", False), ("mallory", "start", False), ("bob", "start", True)]
    status = json.loads(run(capsys, "status", plan, "--state", bob, "--json")[1])
    assert "rollout_bob" in status["identity"] and status["state_store"] == bob
    # the tool's own role cannot change or remove what it wrote
    with psycopg.connect(bob, autocommit=True) as conn:
        for statement in ("UPDATE events SET actor = 'carol'", "DELETE FROM events", "TRUNCATE events"):
            with pytest.raises(psycopg.Error):
                conn.execute(statement)
    with pg_cluster.admin(database) as conn:  # not even the owner, through the trigger
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute("DELETE FROM events")
        assert conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 3


def test_sqlite_identity_is_self_asserted_and_says_so(here: Path, capsys) -> None:
    plan = str(write_plan(here))
    doc = json.loads(run(capsys, "status", plan, "--json")[1])
    assert doc["identity"].startswith("self-asserted")


def test_copy_a_running_rollout_from_sqlite_to_postgresql(here: Path, pg_cluster, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_plan(here)
    source = str(here / ".rollout")
    rollout = Rollout.open(load_plan(path), open_store(source))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    moves.advance(rollout, "shadow", rollout.plan.stage("canary"), actor="alice", reason="setup", now=T0,
                  evidence=None)
    target = pg_cluster.new_database(init=False)
    code, out, err = run(capsys, "state", "copy", "--state", source, "--to", target, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert code == 0 and doc["plans"] == ["ranker"] and doc["rows"] == {"rollouts": 1, "transitions": 2, "events": 2,
                                                                    "evaluations": 0, "evaluation_checks": 0}
    assert run(capsys, "state", "copy", "--state", source, "--to", target)[0] == 2  # never twice
    status = json.loads(run(capsys, "status", str(path), "--state", target, "--json")[1])
    assert (status["status"], status["stage"], status["router_agrees"]) == ("running", "canary", True)
    pg_cluster.role("rollout_bob")
    assert run(capsys, "state", "init", "--state", target, "--grant", "rollout_bob=bob")[0] == 0
    bob = pg_cluster.url(target.rsplit("/", 1)[1], "rollout_bob")
    code, out, err = run(capsys, "rollback", str(path), "--state", bob, "--reason", "moved", "--json")
    assert out, err
    assert (code, json.loads(out)["transition"]) == (0, 3)  # the journal's numbering continues
    actions = [e["action"] for e in json.loads(run(capsys, "history", str(path), "--state", target, "--json")[1])["events"]]
    assert actions == ["start", "advance", "state_copied", "rollback"]
    assert json.loads(run(capsys, "history", str(path), "--state", source, "--json")[1])["events"][-1]["action"] == "state_copied"


def test_init_by_a_role_without_rights_is_an_error_not_a_traceback(here: Path, pg_cluster, capsys) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.new_database(init=False)
    pg_cluster.role("rollout_nobody")
    with pg_cluster.admin(url.rsplit("/", 1)[1]) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    code, _, err = run(capsys, "state", "init", "--state", pg_cluster.url(url.rsplit("/", 1)[1], "rollout_nobody"))
    assert code == 2 and "cannot initialise" in err and "Traceback" not in err
