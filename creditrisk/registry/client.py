"""MLflow tracking and model registry access: runs, versions, aliases, tags, loading.

The moves between version states and their audit trail are `creditrisk.registry.changes`'; this module only
talks to MLflow. A registry that cannot answer is an error (`RegistryError`, naming the URI and
the operation), never mistaken for an absent alias. No global state is touched at import; the
tracking URI is set only inside `Registry.run()` (the fluent API needs it for `log_model`) and
restored afterwards.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from creditrisk.model.credit_model import CreditModel
from creditrisk.model.pyfunc import ARTIFACT_KEY
from creditrisk.registry.states import Alias
from creditrisk.settings import redact

MODEL_NAME = "credit-risk"  # the registered model
EXPERIMENT_NAME = "credit-risk"


class RegistryError(RuntimeError):
    """A registry operation could not be done; the message says which and why."""


@dataclass(frozen=True)
class LoadedModel:
    model: CreditModel
    name: str
    version: str
    run_id: str
    # The artifact's files (booster, feature spec, threshold, canary scores) when the caller asked
    # to keep them (`load(dst=...)`); None when they were read into memory and removed.
    folder: Path | None

    def files(self) -> Path:
        """The artifact's folder (raises when the model was loaded without keeping its files)."""
        if self.folder is None:
            raise RegistryError(f"version {self.version} was loaded without its files (pass dst=)")
        return self.folder


_ABSENT = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}


def _absent(exc: MlflowException) -> bool:
    """MLflow's answer "no such model, version or alias" (every other failure is an error)."""
    return exc.error_code in _ABSENT or (exc.error_code == "INVALID_PARAMETER_VALUE"
                                         and "not found" in str(exc))


class Registry:
    """One registered model and its experiment on an MLflow tracking server or database."""

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

    def register(self, model_uri: str, run_id: str, tags: dict[str, str] | None = None) -> str:
        """Register a logged model (`models:/m-...`) as a new version (no alias: moves are changes')."""
        try:
            self.client.get_registered_model(self.model_name)
        except (MlflowException, OSError) as exc:
            if not (isinstance(exc, MlflowException) and _absent(exc)):
                raise self._error("reading the registered model", exc) from exc
            self.client.create_registered_model(self.model_name, description="Probability of default "
                                                "for loan pre-approval (creditrisk).")
        model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        with self._fluent():
            mv = self.client.create_model_version(self.model_name, model_uri, run_id=run_id, tags=tags or {},
                                                  model_id=model_id)
        return str(mv.version)

    def version(self, version: str) -> ModelVersion:
        return self._call(f"reading version {version}", self.client.get_model_version, self.model_name,
                          version)

    def load(self, ref: str = Alias.CHAMPION, dst: Path | None = None) -> LoadedModel:
        """Load a version (number) or alias straight from its artifact folder (no pyfunc wrapper).

        The files stay in `dst` when one is given (the caller removes them); without it they are
        downloaded to a temporary folder that is gone once the model is in memory.
        """
        mv = self.version(ref) if ref.isdigit() else self.version_for(ref)
        if mv is None:
            raise RegistryError(f"model {self.model_name!r} has no version with alias {ref!r}; "
                                "run `creditrisk bootstrap` first")
        if dst is None:  # a weekly report's load would otherwise leave ~2.5 MB behind each run
            with tempfile.TemporaryDirectory(prefix="creditrisk-model-") as tmp:
                return replace(self._download(mv, Path(tmp)), folder=None)
        return self._download(mv, dst)

    def _download(self, mv: ModelVersion, dst: Path) -> LoadedModel:
        source = self._call(f"locating version {mv.version}", self.client.get_model_version_download_uri,
                            self.model_name, mv.version)
        local = self._call(f"downloading version {mv.version}", mlflow.artifacts.download_artifacts,
                           source, None, None, str(dst), self.tracking_uri)
        folder = Path(local) / "artifacts" / ARTIFACT_KEY
        model = CreditModel.load(folder)  # reads every file: the model needs none of them afterwards
        return LoadedModel(model, self.model_name, str(mv.version), mv.run_id or "", folder)

    # -- aliases, states and tags (the moves themselves are creditrisk.registry.changes') ------------------
    def alias_version(self, alias: str) -> str | None:
        """The version `alias` points at; None only when the registry answers that it has none."""
        mv = self.version_for(alias)
        return None if mv is None else str(mv.version)

    def version_for(self, alias: str) -> ModelVersion | None:
        """The version behind `alias`, None when absent; any other registry failure raises."""
        try:
            return self.client.get_model_version_by_alias(self.model_name, alias)
        except (MlflowException, OSError) as exc:
            if isinstance(exc, MlflowException) and _absent(exc):
                return None
            raise self._error(f"looking up @{alias}", exc) from exc

    def set_alias(self, alias: str, version: str) -> None:
        self._call(f"pointing @{alias} at version {version}", self.client.set_registered_model_alias,
                   self.model_name, alias, version)

    def delete_alias(self, alias: str) -> None:
        """Remove `alias` (nothing to do when it is already absent)."""
        try:
            self.client.delete_registered_model_alias(self.model_name, alias)
        except (MlflowException, OSError) as exc:
            if not (isinstance(exc, MlflowException) and _absent(exc)):
                raise self._error(f"removing @{alias}", exc) from exc

    def max_event_referenced(self) -> int | None:
        """The highest audit event any version's `<action>.event` tag names (None if none does)."""
        found = self._call("listing versions", self.client.search_model_versions, f"name='{self.model_name}'")
        seqs = [int(v) for mv in found for k, v in mv.tags.items() if k.endswith(".event") and v.isdigit()]
        return max(seqs, default=None)

    def versions(self) -> list[ModelVersion]:
        """Every registered version of the model, with its tags ([] before the first)."""
        return list(self._call("listing versions", self.client.search_model_versions,
                               f"name='{self.model_name}'"))

    def run_params(self, run_id: str) -> dict[str, str]:
        """The parameters a run logged (its training data's lineage among them)."""
        return dict(self._call(f"reading run {run_id}", self.client.get_run, run_id).data.params)

    def model_tags(self) -> dict[str, str]:
        """The registered model's tags ({} before its first version)."""
        try:
            return dict(self.client.get_registered_model(self.model_name).tags)
        except (MlflowException, OSError) as exc:
            if isinstance(exc, MlflowException) and _absent(exc):
                return {}
            raise self._error("reading the model's tags", exc) from exc

    def set_model_tag(self, key: str, value: str) -> None:
        self._call(f"writing tag {key}", self.client.set_registered_model_tag, self.model_name, key, value)

    def set_state(self, version: str, state: str) -> None:
        self.set_version_tags(version, {"state": state})

    def set_version_tags(self, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self._call(f"tagging version {version}", self.client.set_model_version_tag, self.model_name,
                       version, key, value)

    def store_text(self, version: str, name: str, text: str) -> str:
        """Store `text` whole as an artifact of the version's run; returns its URI."""
        run_id = self.version(version).run_id
        self._call(f"storing {name}", self.client.log_text, run_id, text, name)
        return f"runs:/{run_id}/{name}"

    def read_text(self, uri: str) -> str:
        """A text artifact (`runs:/<run>/<path>`) of this registry's tracking server."""
        with tempfile.TemporaryDirectory() as tmp:
            path = self._call(f"reading {uri}", mlflow.artifacts.download_artifacts, uri, None, None, tmp,
                              self.tracking_uri)
            return Path(path).read_text()

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except (MlflowException, OSError) as exc:  # OSError: the transport (connection refused, timeout)
            raise self._error(what, exc) from exc

    def _error(self, what: str, exc: Exception) -> RegistryError:
        first = redact(str(exc)).splitlines()[0][:300]  # before cutting: a cut URI would hide its "@"
        return RegistryError(f"registry {redact(self.tracking_uri)}: {what} failed: {first}")
