"""The router protocol (docs/routers.md): read, apply, verify, explain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class RouterSplit:
    """Percent of requests served by the candidate, and percent mirrored to it."""

    candidate_traffic: float
    shadow: float

    def to_json(self) -> dict[str, float]:
        return {"candidate_traffic": self.candidate_traffic, "shadow": self.shadow}

    def __str__(self) -> str:
        return f"candidate {self.candidate_traffic:g}% served, {self.shadow:g}% mirrored"


BASELINE_ONLY = RouterSplit(candidate_traffic=0.0, shadow=0.0)


class Router(Protocol):
    """A traffic router. Methods raise RouterError when the router does not answer or refuses."""

    def read(self) -> RouterSplit:
        """The split the router is serving now, read from the router itself."""
        ...

    def apply(self, split: RouterSplit) -> None:
        """Make the router serve `split`. Idempotent: applying the current split changes nothing."""
        ...

    def verify(self, split: RouterSplit) -> bool:
        """Read the router back; True only when it reports exactly `split`. Never trusts a write."""
        ...

    def explain(self, split: RouterSplit) -> list[str]:
        """Shell commands a person can run to do what `apply(split)` does, for the runbook."""
        ...



@runtime_checkable
class PreparableRouter(Protocol):
    """A router with something to create before its first apply (the file router's file)."""

    def prepare(self) -> None:
        """Create what the router needs to exist; called by `rollout start` (and the demo) only.
        Nothing else may create it: a rollback that writes a router no one reads, then reads it
        back, would "verify" a split that serves no request."""
        ...


# Shares travel as floats (HAProxy weights, JSON, nginx percentages), so "exactly the split"
# means equal to well below any share a router can express.
SHARE_TOLERANCE = 1e-6


def splits_match(reported: RouterSplit, desired: RouterSplit) -> bool:
    """True when a router's reported split is the desired one (within SHARE_TOLERANCE)."""
    return (
        abs(reported.candidate_traffic - desired.candidate_traffic) <= SHARE_TOLERANCE
        and abs(reported.shadow - desired.shadow) <= SHARE_TOLERANCE
    )


def ensure_split_in_range(split: RouterSplit) -> None:
    """Refuse a split outside 0..100 percent before any router is touched (RouterError)."""
    from rollout_cli.errors import RouterError  # kept local: base.py stays import-free for plugins

    for name, share in (("candidate_traffic", split.candidate_traffic), ("shadow", split.shadow)):
        if not 0.0 <= share <= 100.0:
            raise RouterError(f"refusing to apply {name} {share:g}%: a share is between 0% and 100%")
