"""Simulated applicants through the real HTTP API, in simulated time.

Each request carries `X-Request-Time` (the service must be built with `allow_client_time`), so the
store, the weekly windows and every report follow the simulated calendar, never the wall clock.
Outcomes are reported as a bank learns them (creditrisk.applicants.labels): only for approved applicants (a
denied one never gets the loan), after a delay drawn from `label_delay`, through
`POST /outcomes/batch`, once the simulated clock has passed that moment.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import numpy as np
import pandas as pd

from creditrisk.applicants.labels import LabelDelay, report_times
from creditrisk.applicants.schema import FEATURES, LABEL
from creditrisk.model.credit_model import DECISION_APPROVED

# Labels as a bank has them (creditrisk.applicants.labels): the demo's back office reports the outcome
# of each approved applicant after a delay drawn from this distribution (days). A real performance
# window is about 12 months; the demo compresses it so a change is learned within its 10 weeks.
DEMO_LABEL_DELAY = "uniform:2,12"


@dataclass
class Answered:
    """What the portal got back, with the truth the simulator knows (the later outcome)."""
    request_id: str
    ts: datetime
    probability: float
    version: str
    label: int
    report_at: datetime | None  # None: never reported (denied, or approved but never reported)
    approved: bool = True


@dataclass
class TrafficStats:
    answered: list[Answered] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outcomes_sent: int = 0


def _body(row: pd.Series) -> dict:
    body = {f: row[f] for f in FEATURES}
    body["person_age"] = int(body["person_age"])
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in body.items()}


async def _post(client: httpx.AsyncClient, path: str, **kw: object) -> httpx.Response:
    """POST, retrying only a refused connection (the request never left, so it cannot be doubled):
    Serve's HAProxy refuses connections for a moment while it reloads."""
    for attempt in range(5):
        try:
            return await client.post(path, **kw)  # type: ignore[arg-type]
        except httpx.ConnectError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


async def _send_predictions(client: httpx.AsyncClient, apps: pd.DataFrame, concurrency: int,
                            stats: TrafficStats) -> None:
    sem = asyncio.Semaphore(concurrency)
    answered: dict[int, Answered] = {}

    async def one(i: int, row: pd.Series) -> None:
        ts = row["ts"].to_pydatetime(warn=False)  # synthetic timestamps carry nanoseconds
        async with sem:
            try:
                resp = await _post(client, "/predict", json=_body(row),
                                   headers={"X-Request-Time": ts.isoformat()})
            except httpx.HTTPError as exc:
                stats.errors.append(f"/predict: {exc!r}")
                return
        if resp.status_code != 200:
            stats.errors.append(f"/predict {resp.status_code}: {resp.text[:200]}")
            return
        out = resp.json()  # the probability is in staff answers only (the client sends the token)
        answered[i] = Answered(out["request_id"], ts, out.get("probability_of_default", float("nan")),
                               out["model"]["version"], int(row[LABEL]), None,
                               out["decision"] == DECISION_APPROVED)

    await asyncio.gather(*(one(i, row) for i, (_, row) in enumerate(apps.iterrows())))
    stats.answered.extend(answered[i] for i in sorted(answered))  # in request order, whatever finished first


async def _send_outcomes(client: httpx.AsyncClient, due: list[Answered], token: str, stats: TrafficStats,
                         batch: int = 1000) -> None:
    """One `POST /outcomes/batch` per simulated day (as a back office's end-of-day file), at most
    `batch` outcomes each, stamped with the day's last report time."""
    by_day: dict[object, list[Answered]] = {}
    for a in sorted(due, key=lambda a: a.report_at):  # type: ignore[arg-type, return-value]
        by_day.setdefault(a.report_at.date(), []).append(a)  # type: ignore[union-attr]
    for day in by_day.values():
        for i in range(0, len(day), batch):
            chunk = day[i:i + batch]
            body = {"outcomes": [{"request_id": a.request_id, "loan_status": a.label} for a in chunk]}
            resp = await _post(client, "/outcomes/batch", json=body, headers={
                "Authorization": f"Bearer {token}", "X-Request-Time": chunk[-1].report_at.isoformat()})  # type: ignore[union-attr]
            if resp.status_code != 200:
                stats.errors.append(f"/outcomes/batch {resp.status_code}: {resp.text[:200]}")
            else:
                stats.outcomes_sent += len(chunk)


class Traffic:
    """Sends a week of applications, then the outcomes that are due by a simulated time."""

    def __init__(self, base_url: str, token: str, *, seed: int,
                 label_delay: LabelDelay | None = None, report_rate: float = 1.0, concurrency: int = 8):
        self.base_url, self.token, self.concurrency = base_url, token, concurrency
        self.label_delay = label_delay or LabelDelay.parse(DEMO_LABEL_DELAY)
        self.report_rate = report_rate
        self.rng = np.random.default_rng(seed)
        self.stats = TrafficStats()
        self._pending: list[Answered] = []

    def _client(self) -> httpx.AsyncClient:
        """The back office's client: its token also gets /predict's probability (for the realized AUC)."""
        return httpx.AsyncClient(base_url=self.base_url, timeout=30.0,
                                 headers={"Authorization": f"Bearer {self.token}"} if self.token else None,
                                 limits=httpx.Limits(max_connections=self.concurrency))

    def send_week(self, apps: pd.DataFrame) -> list[Answered]:
        before = len(self.stats.answered)

        async def go() -> None:
            async with self._client() as client:
                await _send_predictions(client, apps, self.concurrency, self.stats)
        asyncio.run(go())
        new = self.stats.answered[before:]
        at = report_times(pd.Series([a.ts for a in new]), np.array([a.approved for a in new], dtype=bool),
                          self.label_delay, self.rng, self.report_rate)
        for a, when in zip(new, at, strict=True):
            a.report_at = None if pd.isna(when) else when.to_pydatetime(warn=False)
        self._pending.extend(a for a in new if a.report_at is not None)
        return new

    def report_due(self, now: datetime) -> int:
        due: list[Answered] = []
        later: list[Answered] = []
        for a in self._pending:
            (due if a.report_at is not None and a.report_at < now else later).append(a)
        self._pending = later

        async def go() -> None:
            async with self._client() as client:
                await _send_outcomes(client, due, self.token, self.stats)
        if due:
            asyncio.run(go())
        return len(due)
