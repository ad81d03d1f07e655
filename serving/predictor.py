"""The champion predictor a Serve replica holds: batched scoring, and the loop that keeps it current.

One instance lives in every serving replica. Scoring takes one reference to the current model per
batch, so a batch is never split across two versions (`serving.scoring`). What the replica serves
and how it follows the champion (first load, fallbacks, reload checks, swaps) is `serving.champion`;
this class adds what needs Ray Serve: `@serve.batch`, and the background task that runs the reload
check every `reload_interval_s`, or at once after a new user_config.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ray import serve

from creditrisk.alerts import Alerter
from creditrisk.registry.client import Registry
from serving.champion import ChampionModel
from serving.config import PredictorConfig
from serving.scoring import Scored, score_batch


@dataclass
class _Loop:
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    failure: BaseException | None = None


class ChampionPredictor(ChampionModel):
    """The champion model with Serve's request batching and its reload loop."""

    def __init__(self, registry_factory: Callable[[], Registry], config: PredictorConfig,
                 alerter: Alerter | None = None) -> None:
        super().__init__(registry_factory, config, alerter)
        self._loop = _Loop()

    # -- scoring -------------------------------------------------------------------------------
    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.0)
    async def score(self, rows: list[dict[str, Any]]) -> list[Scored]:
        return self.score_now(rows)

    def score_now(self, rows: list[dict[str, Any]]) -> list[Scored]:
        if self.state is None:
            raise RuntimeError("no model loaded")
        return score_batch(self.state.loaded, rows)  # one reference for the whole batch

    # -- background reload loop -----------------------------------------------------------------
    def start(self) -> None:
        self._loop.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                try:
                    await asyncio.wait_for(self._loop.wake.wait(), timeout=self.config.reload_interval_s)
                except TimeoutError:
                    pass
                self._loop.wake.clear()
                await self.check_once()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._loop.failure = exc  # check_health() reports it and Serve replaces the replica
            raise

    def configure(self, config: PredictorConfig) -> None:
        """Apply a new user_config in place: the alias/pin is checked at once, the new interval used after."""
        self.config = config
        batched: Any = self.score  # @serve.batch adds these setters to the method
        batched.set_max_batch_size(config.max_batch_size)
        batched.set_batch_wait_timeout_s(config.batch_wait_timeout_s)
        self._loop.wake.set()

    def check_health(self) -> None:
        if self.state is None:
            raise RuntimeError("no model loaded")
        task = self._loop.task
        if self._loop.failure is not None or (task is not None and task.done() and not task.cancelled()):
            raise RuntimeError(f"model reload loop stopped: {self._loop.failure!r}")

    async def close(self) -> None:
        if self._loop.task is not None:
            self._loop.task.cancel()
            await asyncio.gather(self._loop.task, return_exceptions=True)
        self.loader.close()
