"""Orchestration with the journal and the router: start, advance, rollback, reconcile, tick.

Each move of the router is a journalled transition (state/journal.py); the modules here are
the only code that moves a router for a rollout.
"""
