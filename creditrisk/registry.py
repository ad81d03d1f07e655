"""MLflow tracking and model registry: runs, versions, the champion/challenger aliases, audit tags.

No global state is touched at import; the tracking URI is set only inside `Registry.run()` (the
fluent API needs it for `log_model`) and restored afterwards. Every alias move writes an audit
event (who, when, why, from/to versions) as a registered-model tag `audit.<utc timestamp>` and as
tags on the versions involved, so the registry itself is the record of decisions.
"""
from __future__ import annotations

import getpass
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from creditrisk.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS, EXPERIMENT_NAME, MODEL_NAME
from creditrisk.model import CreditModel
from creditrisk.pyfunc import ARTIFACT_KEY


class RegistryError(RuntimeError):
    """A registry operation could not be done; the message says which and why."""


@dataclass(frozen=True)
class LoadedModel:
    model: CreditModel
    name: str
    version: str
    run_id: str


@dataclass(frozen=True)
class AliasMove:
    action: str
    champion: str
    challenger: str | None
    reason: str
    actor: str
    at: str


def _actor(actor: str | None) -> str:
    return actor or os.environ.get("CREDITRISK_ACTOR") or getpass.getuser()


class Registry:
    def __init__(self, tracking_uri: str, artifact_location: str | None = None,
                 model_name: str = MODEL_NAME, experiment: str = EXPERIMENT_NAME):
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.model_name = model_name
        self.experiment = experiment
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def experiment_id(self) -> str:
        exp = self.client.get_experiment_by_name(self.experiment)
        if exp is not None:
            return exp.experiment_id
        return self.client.create_experiment(self.experiment, artifact_location=self.artifact_location)

    @contextmanager
    def _fluent(self) -> Iterator[None]:
        """Point MLflow's process-global URIs here for one block (log_model and the registry's
        logged-model lookup only use the globals), then put them back."""
        previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous[0])
            mlflow.set_registry_uri(previous[1])

    @contextmanager
    def run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator[str]:
        """An active MLflow run (fluent API) against this registry's server; yields the run id."""
        with self._fluent(), mlflow.start_run(experiment_id=self.experiment_id(), run_name=run_name,
                                              tags=tags) as r:
            yield r.info.run_id

    def register(self, model_uri: str, run_id: str, alias: str | None = None,
                 tags: dict[str, str] | None = None) -> str:
        """Register a logged model (`models:/m-...`) as a new version; optionally point `alias` at it."""
        try:
            self.client.get_registered_model(self.model_name)
        except MlflowException:
            self.client.create_registered_model(self.model_name, description="Probability of default "
                                                "for loan pre-approval (creditrisk).")
        model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        with self._fluent():
            mv = self.client.create_model_version(self.model_name, model_uri, run_id=run_id, tags=tags or {},
                                                  model_id=model_id)
        if alias:
            self.client.set_registered_model_alias(self.model_name, alias, mv.version)
        return str(mv.version)

    def version_for(self, alias: str) -> ModelVersion | None:
        try:
            return self.client.get_model_version_by_alias(self.model_name, alias)
        except MlflowException:
            return None

    def version(self, version: str) -> ModelVersion:
        return self.client.get_model_version(self.model_name, version)

    def load(self, ref: str = CHAMPION_ALIAS, dst: Path | None = None) -> LoadedModel:
        """Load a version (number) or alias straight from its artifact folder (no pyfunc wrapper)."""
        mv = self.version(ref) if ref.isdigit() else self.version_for(ref)
        if mv is None:
            raise RegistryError(f"model {self.model_name!r} has no version with alias {ref!r}; "
                                "run `creditrisk bootstrap` first")
        dst = dst or Path(tempfile.mkdtemp(prefix="creditrisk-model-"))
        source = self.client.get_model_version_download_uri(self.model_name, mv.version)
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(dst),
                                                    tracking_uri=self.tracking_uri)
        folder = Path(local) / "artifacts" / ARTIFACT_KEY
        return LoadedModel(CreditModel.load(folder), self.model_name, str(mv.version), mv.run_id or "")

    def _audit(self, event: dict[str, Any], version: str) -> None:
        """Append `event` to the model's audit trail and tag `version` with who/when/why."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        text = json.dumps(event, default=str)[:4900]
        self.client.set_registered_model_tag(self.model_name, f"audit.{stamp}", text)
        self.client.set_registered_model_tag(self.model_name, "last_decision", text)
        for key in ("actor", "at", "reason"):
            self.client.set_model_version_tag(self.model_name, version, f"{event['action']}.{key}",
                                              str(event[key])[:4900])

    def record_decision(self, challenger: str, reason: str, actor: str | None = None,
                        extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record an evaluation that kept the champion (no alias moves)."""
        event = {"action": "keep", "champion": None, "challenger": challenger, "reason": reason,
                 "actor": _actor(actor), "at": datetime.now(UTC).isoformat(timespec="seconds"),
                 **(extra or {})}
        if (champion := self.version_for(CHAMPION_ALIAS)) is not None:
            event["champion"] = str(champion.version)
        self._audit(event, challenger)
        return event

    def promote(self, reason: str, actor: str | None = None,
                extra: dict[str, Any] | None = None) -> AliasMove:
        """challenger -> champion and the old champion -> challenger (the original design)."""
        new = self.version_for(CHALLENGER_ALIAS)
        if new is None:
            raise RegistryError(f"model {self.model_name!r} has no {CHALLENGER_ALIAS!r} to promote")
        old = self.version_for(CHAMPION_ALIAS)
        return self._move("promote", str(new.version), str(old.version) if old else None, reason, actor,
                          extra)

    def rollback(self, reason: str, actor: str | None = None, to_version: str | None = None) -> AliasMove:
        """Put `to_version` (default: the challenger, i.e. the previous champion) back as champion."""
        current = self.version_for(CHAMPION_ALIAS)
        target = to_version or (str(v.version) if (v := self.version_for(CHALLENGER_ALIAS)) else None)
        if current is None or target is None:
            raise RegistryError("rollback needs a champion and a version to roll back to")
        self.version(target)  # raises if the version does not exist
        return self._move("rollback", target, str(current.version), reason, actor, None)

    def _move(self, action: str, champion: str, challenger: str | None, reason: str, actor: str | None,
              extra: dict[str, Any] | None) -> AliasMove:
        move = AliasMove(action, champion, challenger, reason, _actor(actor),
                         datetime.now(UTC).isoformat(timespec="seconds"))
        self.client.set_registered_model_alias(self.model_name, CHAMPION_ALIAS, champion)
        if challenger is not None and challenger != champion:
            self.client.set_registered_model_alias(self.model_name, CHALLENGER_ALIAS, challenger)
        self._audit({**move.__dict__, **(extra or {})}, champion)
        return move

    def audit_log(self) -> list[dict[str, Any]]:
        tags = self.client.get_registered_model(self.model_name).tags
        return [json.loads(tags[k]) for k in sorted(t for t in tags if t.startswith("audit."))]
