"""The names of change control: a version's states, the aliases, and what an evaluation decided.

StrEnum members are their values (`f"{Alias.CHAMPION}"` is `champion`), so they go into MLflow tags,
aliases, audit events and Dagster metadata as the same plain strings as before they were enums.
"""
from __future__ import annotations

from enum import StrEnum


class Alias(StrEnum):
    """Each alias has one meaning."""

    CHAMPION = "champion"  # the version that serves
    CHALLENGER = "challenger"  # the candidate under evaluation, set only once it passed every gate
    AWAITING = "awaiting"  # won its evaluation under the approval policy; waits for a person
    PREVIOUS = "previous"  # the champion before the current one: the rollback target


class State(StrEnum):
    """A version's `state` tag; `creditrisk.registry.changes` holds the only moves between them."""

    CANDIDATE = "candidate"  # registered; candidate gates not yet passed
    CHALLENGER = "challenger"  # passed every candidate gate; @challenger
    AWAITING_APPROVAL = "awaiting_approval"  # won its evaluation under the approval policy; @awaiting
    CHAMPION = "champion"  # serving; @champion
    PREVIOUS = "previous"  # served until the current champion; @previous
    RETIRED = "retired"  # served once, no longer a rollback target
    REJECTED = "rejected"  # failed a gate, lost its evaluation or was rejected by a person
    SUPERSEDED = "superseded"  # replaced by a newer candidate before it was judged


class Outcome(StrEnum):
    """What evaluating a challenger decided."""

    PROMOTED = "promoted"
    KEPT = "kept"  # the champion keeps serving
    AWAITING_APPROVAL = "awaiting_approval"  # won, waits for a person under the approval policy
    FIRST_MODEL = "first_model"  # there was no champion: the challenger became the first
    REFUSED = "refused"  # the move was refused under the lock (another move came first): nothing judged

    @property
    def serves_challenger(self) -> bool:
        """Whether the challenger serves after this outcome."""
        return self in (Outcome.PROMOTED, Outcome.FIRST_MODEL)

    @property
    def judged(self) -> bool:
        """Whether the challenger was judged, so a retrain that ended so has had its chance."""
        return self is not Outcome.REFUSED
