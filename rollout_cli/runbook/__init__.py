"""Runbooks and drills (docs/runbooks.md): the on-call document written from the plan and the
drills on record (render.py, content.py, words.py), and the timed rehearsal of the rollback
against a router (drill.py, rehearsal.py, router_spec.py)."""
