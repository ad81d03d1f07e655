"""Request ids: time-ordered UUIDs (version-7 layout) whose first 48 bits are the request's time.

The time is the request's own (the simulated `X-Request-Time` in demos, else the wall clock), the
same clock as the stored row's `ts`: so an id names the day folder or partition its row is in, and
an id lookup reads only that day (±1 for clock skew) instead of the whole log.
"""
from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

_rand = random.SystemRandom()


def new_request_id(now_ms: int | None = None) -> str:
    """A fresh id for a request made at `now_ms` (ms since the epoch; default: now)."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | _rand.getrandbits(12) << 64 | 0b10 << 62 \
        | _rand.getrandbits(62)
    return str(uuid.UUID(int=value))


def id_for(ts: datetime) -> str:
    """A fresh id carrying the request time `ts`."""
    return new_request_id(int(ts.timestamp() * 1000))


def issued_at_ms(request_id: str) -> int | None:
    """Issue time of an id made by `new_request_id`, None for anything else."""
    try:
        u = uuid.UUID(request_id)
    except (ValueError, AttributeError, TypeError):
        return None
    return u.int >> 80 if u.version == 7 else None


def lookup_days(request_ids: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """The UTC days (YYYY-MM-DD) an id lookup reads: each id's day ±1; ids not ours add none."""
    days: set[str] = set()
    for rid in request_ids:
        ms = issued_at_ms(rid)
        if ms is None:
            continue
        try:
            day = datetime.fromtimestamp(ms / 1000.0, UTC)
            days.update(f"{day + timedelta(days=d):%Y-%m-%d}" for d in (-1, 0, 1))
        except (OverflowError, OSError, ValueError):  # a forged id at the calendar's edge
            continue
    return sorted(days)
