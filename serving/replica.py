"""One serving replica's state and the work its routes share: scoring, the log, outcomes, readiness.

Kept apart from the Ray Serve deployment (`serving.app`) so that the routes (`serving.api`) depend
on this plain object, not on the deployment that builds them, and so that tests can drive it
without Ray.
"""
from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from typing import Any, TypeVar

from creditrisk.store.request_ids import issued_at_ms
from serving.config import RateLimit, ServiceArgs
from serving.health import now_iso, overall
from serving.limits import resolved
from serving.logger import InferenceLogger
from serving.metrics import ReplicaMetrics
from serving.predictor import ChampionPredictor

T = TypeVar("T")


class Replica:
    """The predictor (model + reload loop), the request log and the outcomes token of one replica."""

    def __init__(self, args: ServiceArgs, predictor: ChampionPredictor, logger: InferenceLogger,
                 outcomes_token: str | None, replica_id: str | None = None,
                 rate_limit: RateLimit | None = None, metrics: ReplicaMetrics | None = None) -> None:
        self.args = args
        self.predictor = predictor
        self.logger = logger
        self.outcomes_token = outcomes_token
        self.replica_id = replica_id
        # resolved for the replica's environment by its builder; without one, as configured (None: off)
        self.rate_limit = rate_limit or resolved(args.rate_limit, production=False)
        self.started_at = now_iso()
        self.metrics = metrics  # None outside a Serve replica (tests that drive the routes without Ray)

    def token_matches(self, token: str) -> bool:
        expected = self.outcomes_token or ""
        return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())

    async def store_call(self, fn: Callable[..., T], *args: Any) -> T:
        """A request-store call off the event loop; its success or failure is the store's health."""
        try:
            result = await asyncio.to_thread(fn, *args)
        except Exception as exc:
            self.logger.store_health.set("down", exc)
            raise
        self.logger.store_health.set("ok")
        return result

    def grace_s(self, request_id: str) -> float:
        """How long an id not found yet may still be on its way from another replica's log.

        A replica ships its log every `flush_interval_s`, so an id issued less than two intervals
        (plus slack) ago may be unknown for a moment; older ids, and ids not minted by this service,
        are final at once. With client time allowed (simulated demos) an id's time says nothing
        about when it was answered: an id of ours gets the full grace while traffic is flowing
        (this replica recorded a request within the horizon), none on an idle service.
        """
        issued = issued_at_ms(request_id)
        if issued is None:
            return 0.0
        horizon = 2 * self.args.flush_interval_s + 2.0
        if self.args.allow_client_time:
            return horizon if self.logger.seconds_since_last_record() < horizon else 0.0
        wait = issued / 1000.0 + horizon - time.time()
        return wait if 0 < wait <= horizon else 0.0  # long shipped, or from the future: not ours

    async def is_known(self, request_id: str) -> bool:
        """In this replica's log, or in the store (see `unknown_ids`)."""
        return not await self.unknown_ids([request_id])

    async def unknown_ids(self, request_ids: list[str]) -> set[str]:
        """The ids neither in this replica's log nor in the store: one store query for the batch,
        and one more after the grace when some could still be on their way from another replica."""
        missing = {i for i in request_ids if not self.logger.contains(i)}
        if missing:
            missing -= await self.store_call(self.logger.store.known_request_ids, sorted(missing))
        wait = max((self.grace_s(i) for i in missing), default=0.0)
        if wait > 0:
            await asyncio.sleep(wait)
            missing = {i for i in missing if not self.logger.contains(i)}
            if missing:
                missing -= await self.store_call(self.logger.store.known_request_ids, sorted(missing))
        return missing

    async def append_outcomes(self, rows: list[dict[str, Any]]) -> int:
        return await self.store_call(self.logger.store.append_outcomes, rows)

    def decided(self, decision: str, version: str, probability: float) -> None:
        if self.metrics is not None:
            self.metrics.decided(decision, version, probability)

    async def append_outcomes_counted(self, rows: list[dict[str, Any]]) -> int:
        """Store outcomes, then count them (a failed write counts nothing)."""
        stored = await self.append_outcomes(rows)
        if self.metrics is not None:
            self.metrics.outcomes_recorded(len(rows))
        return stored

    def sample_metrics(self) -> None:
        """Refresh the exported gauges and totals from this replica's parts (see `serving.metrics`)."""
        if self.metrics is not None:
            p = self.predictor
            self.metrics.sample(self.readiness(), {"ship_failures": self.logger.ship_failures,
                                                   "model_swaps": p.swaps, "load_refusals": p.load_refusals,
                                                   "alerts_undelivered": p.alerter.undelivered[0]})

    def readiness(self) -> dict[str, Any]:
        """The `/readyz` body: overall status, this replica, and one section per part."""
        sections = {**self.predictor.sections(), **self.logger.sections()}
        return {"status": overall(sections), "replica": self.replica_id, "started_at": self.started_at,
                **sections}
