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

from creditrisk.request_ids import issued_at_ms
from serving.config import ServiceArgs
from serving.health import now_iso, overall
from serving.logger import InferenceLogger
from serving.predictor import ChampionPredictor

T = TypeVar("T")


class Replica:
    """The predictor (model + reload loop), the request log and the outcomes token of one replica."""

    def __init__(self, args: ServiceArgs, predictor: ChampionPredictor, logger: InferenceLogger,
                 outcomes_token: str | None, replica_id: str | None = None) -> None:
        self.args = args
        self.predictor = predictor
        self.logger = logger
        self.outcomes_token = outcomes_token
        self.replica_id = replica_id
        self.started_at = now_iso()

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

    async def is_known(self, request_id: str) -> bool:
        """In this replica's buffer, in the store, or (for a fresh id) in the store once every
        replica's buffer must have been flushed: a request answered a moment ago is never a 404."""
        if self.logger.contains(request_id) or await self._stored(request_id):
            return True
        issued = issued_at_ms(request_id)
        if issued is None:
            return False
        horizon = 2 * self.args.flush_interval_s + 2.0
        wait = issued / 1000.0 + horizon - time.time()
        if wait <= 0 or wait > horizon:  # long flushed, or an id from the future: not one of ours
            return False
        await asyncio.sleep(wait)
        return self.logger.contains(request_id) or await self._stored(request_id)

    async def unknown_ids(self, request_ids: list[str]) -> set[str]:
        """The ids neither buffered here nor stored (one store query for the whole batch); ids
        answered a moment ago by another replica get the same flush grace as a single outcome."""
        missing = {i for i in request_ids if not self.logger.contains(i)}
        if missing:
            missing -= await self.store_call(self.logger.store.known_request_ids, sorted(missing))
        return {i for i in missing if not await self.is_known(i)} if missing else set()

    async def append_outcomes(self, rows: list[dict[str, Any]]) -> int:
        return await self.store_call(self.logger.store.append_outcomes, rows)

    async def _stored(self, request_id: str) -> bool:
        found: set[str] = await self.store_call(self.logger.store.known_request_ids, [request_id])
        return bool(found)

    def readiness(self) -> dict[str, Any]:
        """The `/readyz` body: overall status, this replica, and one section per part."""
        sections = {**self.predictor.sections(), **self.logger.sections()}
        return {"status": overall(sections), "replica": self.replica_id, "started_at": self.started_at,
                **sections}
