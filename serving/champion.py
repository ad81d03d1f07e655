"""The model a replica serves and how it follows the champion: first load, reload check, swap.

Reload: a background task (`serving.predictor`) asks the registry where the alias points every
`reload_interval_s`; on a move it loads the new version completely (download, validation gate, one
warm-up prediction; `serving.loading`) in a worker thread and only then swaps the reference, so no
request waits for or fails on a load. It swaps only to the version change control crowned, with the
files it crowned (`serving.audited`). A version that fails to load or validate is never swapped in,
and when the registry cannot be reached the loaded model keeps serving; `sections()` says so (shown
by `/readyz`).
"""
from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from typing import Any

from mlflow.exceptions import MlflowException

from creditrisk.alerts import Alerter
from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.registry.audit import NoAuditedChampion
from creditrisk.registry.client import Registry
from serving.audited import ALERT_TITLE, AuditGate, Verdict
from serving.config import PredictorConfig
from serving.health import PartHealth, now_iso
from serving.loading import LoadFailed, ModelState, VersionLoader
from serving.scoring import score_batch

log = logging.getLogger("ray.serve")
_ANSWERED = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}


class ChampionModel:
    """The loaded model, the registry it follows, and the health of both; no Ray needed."""

    def __init__(self, registry_factory: Callable[[], Registry], config: PredictorConfig,
                 alerter: Alerter | None = None) -> None:
        self._registry_factory = registry_factory
        self.alerter = alerter or Alerter()
        self.audit = AuditGate()
        self.registry: Registry | None = None
        self.config = config
        self.state: ModelState | None = None
        self.model_health = PartHealth("down")  # down until a model is loaded
        self.registry_health = PartHealth("down")  # down until the registry has answered
        self.checked_at: str | None = None
        self.alias_version: str | None = None
        self.swaps = self.load_refusals = 0  # totals for the exported metrics (`serving.metrics`)
        self.loader = VersionLoader(self._registry, lambda loaded: score_batch(loaded, [EXAMPLE_APPLICANT]))

    # -- loading -------------------------------------------------------------------------------
    def _registry(self) -> Registry:
        if self.registry is None:
            self.registry = self._registry_factory()
        return self.registry

    def target_version(self) -> str:
        """Version the replica should serve: the pin, else where the alias points (raises if unknown)."""
        if self.config.pinned_version:
            return self.config.pinned_version
        reg = self._registry()
        return str(reg.client.get_model_version_by_alias(reg.model_name, self.config.alias).version)

    def load_version(self, version: str, digest: str | None = None) -> ModelState:
        return self.loader.load(version, digest)

    def verdict(self, version: str) -> Verdict:
        """What may be served while the alias or pin names `version` (`serving.audited`)."""
        return self.audit.verdict(self._registry(), version, self.config)

    def swap(self, new: ModelState) -> None:
        old, self.state = self.state, new
        if old is not None and old.folder != new.folder:
            shutil.rmtree(old.folder, ignore_errors=True)  # in-flight batches hold the booster, not files

    def load_initial(self) -> None:
        """Blocking first load at replica start; raising here makes Serve retry the replica.

        It loads the audited champion (a stray alias is named, degraded; a trail that does not verify
        raises: nothing may be served). A champion that cannot be loaded or validated is not served:
        the replica falls back to the newest version the verified trail shows served that loads,
        validates and has its recorded files, says so in /readyz, and retries the champion."""
        version = self.target_version()
        verdict = self.verdict(version)
        self._registry_answered(version)
        try:
            self.swap(self.load_version(verdict.version, verdict.digest))
        except LoadFailed as exc:
            if self.config.pinned_version:
                raise
            self.loader.failed(verdict.version, self.config.reload_interval_s)
            refused: list[str] = []
            for fallback in self.audit.fallbacks(self._registry(), verdict.version):
                try:
                    self.swap(self.load_version(fallback.version, fallback.digest))
                except LoadFailed as why:
                    refused.append(str(why))
                    continue
                self.model_health.set("degraded", f"champion version {verdict.version} could not be served "
                                      f"({exc}); serving version {fallback.version}, the last that served "
                                      "and passes validation")
                log.error("%s", self.model_health.last_error)
                return
            # nothing that served before passes either: Serve retries the replica
            raise LoadFailed("; ".join([str(exc), *refused])) from exc
        if verdict.stray is not None:
            self.audit.stray_at_start(verdict, self.model_health)
            log.error("%s", self.model_health.last_error)
        else:
            self.audit.followed(verdict, self.model_health)
        log.info("serving %s version %s", self.state.loaded.name if self.state else "?", verdict.version)

    async def _audit_problem(self, verdict: Verdict | None, trail_error: str | None = None) -> None:
        """Keep the model; a confirmed problem is degraded and alerted once (`AuditGate.problem`)."""
        serving = self.state.loaded.version if self.state else None
        alert = self.audit.problem(verdict, trail_error, self.model_health, serving)
        if alert is not None:
            log.error("%s", alert["detail"])
            await asyncio.to_thread(self.alerter.send, ALERT_TITLE, alert)

    async def check_once(self) -> bool:
        """One reload check; True when a new version was swapped in. Never raises for registry errors."""
        try:
            version = await asyncio.to_thread(self.target_version)
            try:
                verdict = await asyncio.to_thread(self.verdict, version)
            except NoAuditedChampion as exc:  # the registry answered: its trail names nothing to serve
                self._registry_answered(version)
                await self._audit_problem(None, str(exc))
                return False
        except Exception as exc:  # noqa: BLE001 - any registry failure: report it, keep serving
            # The registry answered "no such alias/version" (degraded) vs could not be asked at all (down).
            answered = isinstance(exc, MlflowException) and exc.error_code in _ANSWERED
            self.checked_at = now_iso()
            self.registry_health.set("degraded" if answered else "down", exc)
            return False
        self._registry_answered(version)
        if verdict.stray is not None:  # moved outside change control: not followed
            await self._audit_problem(verdict)
            return False
        if verdict.served_by(self.state):
            # serving what change control names (a failed load or a stray alias may have been undone)
            self.audit.followed(verdict, self.model_health)
            return False
        version = verdict.version
        if not self.loader.may_try(version):
            return False  # it failed a moment ago: back off instead of downloading it again
        try:
            new = await asyncio.to_thread(self.load_version, version, verdict.digest)
        except LoadFailed as exc:  # a broken, invalid or not-crowned version must not take the replica down
            self.loader.failed(version, self.config.reload_interval_s)
            self.load_refusals += 1
            self.model_health.set("degraded" if self.state else "down", str(exc))
            log.error("%s; still serving version %s", exc, self.state.loaded.version if self.state else None)
            return False
        old = self.state.loaded.version if self.state else None
        self.swap(new)
        self.swaps += 1
        self.audit.followed(verdict, self.model_health)
        log.info("model swapped: version %s -> %s", old, version)
        return True

    def _registry_answered(self, version: str) -> None:
        self.checked_at, self.alias_version = now_iso(), version
        self.registry_health.set("ok")

    def sections(self) -> dict[str, dict[str, Any]]:
        """The `model` and `registry` sections of `/readyz`."""
        s = self.state
        loaded = {"name": None, "version": None, "run_id": None, "loaded_at": None, "threshold": None} \
            if s is None else {"name": s.loaded.name, "version": s.loaded.version, "run_id": s.loaded.run_id,
                               "loaded_at": s.loaded_at, "threshold": s.loaded.model.threshold}
        return {"model": self.model_health.section(**loaded, alias=self.config.alias,
                                                   pinned_version=self.config.pinned_version,
                                                   reload_interval_s=self.config.reload_interval_s,
                                                   **self.audit.details()),
                "registry": self.registry_health.section(checked_at=self.checked_at,
                                                         alias_version=self.alias_version)}
