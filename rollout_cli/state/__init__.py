"""Durable rollout state: the SQLite store, the transition journal, the audit trail, identity and clock."""
