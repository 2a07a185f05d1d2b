"""Placeholder until the validator lands: accepts every loadable document."""

from __future__ import annotations

from rollout_cli.plan.load import LoadedDocument, Problem


def validate_document(doc: LoadedDocument) -> list[Problem]:
    return []
