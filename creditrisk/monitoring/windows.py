"""Time windows of the weekly loop, from one week key (the Sunday the week ends on).

A week is Monday 00:00 UTC to the next Monday 00:00 UTC (`[start, end)`); its key is its last day,
e.g. "2026-11-22" for ISO week 2026-W47. Everything is derived from that key, never from the wall
clock, so a replayed or simulated week gives the same windows.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

# The original design: the last week against the previous 3 months, and promotion judged on the last
# 10 days of labelled requests (held out of training).
REFERENCE_WEEKS = 13
EVALUATION_DAYS = 10


@dataclass(frozen=True)
class WeekWindows:
    key: str
    current: tuple[datetime, datetime]
    reference: tuple[datetime, datetime]
    evaluation: tuple[datetime, datetime]  # the last days before `as_of`, held out for promotion

    @property
    def as_of(self) -> datetime:
        return self.current[1]

    @property
    def label(self) -> str:
        year, week, _ = self.current[0].isocalendar()
        return f"{year}-W{week:02d}"


def week_key_for(moment: datetime) -> str:
    """Key of the last *complete* week at `moment` (the Sunday before its Monday)."""
    day = moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    monday = day - timedelta(days=day.weekday())
    return (monday - timedelta(days=1)).isoformat()


def week_windows(key: str, reference_weeks: int = REFERENCE_WEEKS,
                 evaluation_days: int = EVALUATION_DAYS) -> WeekWindows:
    last_day = date.fromisoformat(key)
    if last_day.weekday() != 6:
        raise ValueError(f"week key {key!r} must be a Sunday (the last day of the week)")
    end = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=UTC)
    start = end - timedelta(days=7)
    return WeekWindows(key=key, current=(start, end),
                       reference=(start - timedelta(weeks=reference_weeks), start),
                       evaluation=(end - timedelta(days=evaluation_days), end))
