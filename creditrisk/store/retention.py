"""Retention: which rows of the request store may be deleted, and which must stay.

Regulation B (12 CFR 1002.12(b)) has a creditor keep an application's records for 25 months after
it notified the applicant; the store's `ts` is that moment, since every answer is given at once. A
request older than the cut-off still stays while a legal hold covers its day (1002.12(b)(4): an
investigation, an enforcement action, a lawsuit) or while it lies in the training window of a
version that may still serve (so that model can be trained again from the same rows). An outcome
stays as long as its request does: it goes only once it is itself older than the cut-off and its
request is gone. The rule lives here once; each backend's `delete_before` applies it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from creditrisk.settings import MIN_RETENTION_MONTHS
from creditrisk.store.rows import utc

# The earliest request time: the open start of a training window ("..2026-03-01" reads from here).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class KeepRange:
    """Request times `[start, end)` whose rows stay past the cut-off, and why (for the job's metadata)."""

    start: datetime
    end: datetime
    why: str


@dataclass(frozen=True)
class Deleted:
    """What one `delete_before` removed: request rows and outcome rows."""

    requests: int
    outcomes: int


def retention_cutoff(now: datetime, months: int) -> datetime:
    """The start of the UTC day `months` calendar months before `now` (a short month: its last day)."""
    back = utc(now) - pd.DateOffset(months=months)
    return back.normalize().to_pydatetime()


def hold_ranges(holds: Iterable[tuple[str, date, date]]) -> list[KeepRange]:
    """Legal holds (label, first day, last day, both held) as keep ranges of whole UTC days."""
    return [KeepRange(datetime.combine(first, datetime.min.time(), UTC),
                      datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC),
                      f"legal hold {label}") for label, first, last in holds]


def merged_ranges(keep: Iterable[KeepRange | tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The union of keep ranges as sorted, disjoint `[start, end)` pairs."""
    pairs = sorted((utc(k.start), utc(k.end)) if isinstance(k, KeepRange) else (utc(k[0]), utc(k[1]))
                   for k in keep)
    out: list[tuple[datetime, datetime]] = []
    for start, end in pairs:
        if start >= end:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end.to_pydatetime()))
        else:
            out.append((start.to_pydatetime(), end.to_pydatetime()))
    return out


def may_delete(ts: pd.Series, cutoff: datetime, keep: Sequence[tuple[datetime, datetime]]) -> np.ndarray:
    """Which request times may go: before `cutoff` and inside no `[start, end)` of `keep`."""
    times = pd.to_datetime(ts, utc=True)
    doomed = (times < utc(cutoff)).to_numpy(dtype=bool)
    for start, end in keep:
        doomed &= ~((times >= utc(start)) & (times < utc(end))).to_numpy(dtype=bool)
    return doomed


@dataclass(frozen=True)
class RetentionPlan:
    """One retention run's rule: requests before `cutoff` go, except those in a keep range."""

    cutoff: datetime
    keep: tuple[KeepRange, ...]  # clipped to before the cut-off, sorted by start

    def ranges(self) -> list[tuple[datetime, datetime]]:
        """The keep ranges as disjoint pairs, what a backend's `delete_before` takes."""
        return merged_ranges(self.keep)

    def may_delete(self, ts: pd.Series) -> np.ndarray:
        """Which of these request times this plan deletes."""
        return may_delete(ts, self.cutoff, self.ranges())


def plan_retention(now: datetime, *, months: int = MIN_RETENTION_MONTHS, holds: Iterable[KeepRange] = (),
                   referenced: Iterable[KeepRange] = ()) -> RetentionPlan:
    """The rule for a run at `now`: its cut-off, and the holds and referenced windows that reach before it."""
    if months < MIN_RETENTION_MONTHS:
        raise ValueError(f"retention must be at least {MIN_RETENTION_MONTHS} months (12 CFR 1002.12(b)), "
                         f"got {months}")
    cutoff = retention_cutoff(now, months)
    keep = [KeepRange(utc(k.start).to_pydatetime(), min(utc(k.end).to_pydatetime(), cutoff), k.why)
            for k in [*referenced, *holds] if utc(k.start) < cutoff and k.start < k.end]
    return RetentionPlan(cutoff, tuple(sorted(keep, key=lambda k: (k.start, k.end))))
