"""Dagster resources: the same keys in every deployment, their parts built by `creditrisk.wiring`.

`build_resources()` reads CREDITRISK_ENV once, when Dagster loads the code location (never at
import). In production every endpoint is an `EnvVar` resolved only when a run starts, so the
definitions load without credentials; the store's BigQuery client is dagster-gcp's.
"""

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd
from dagster_gcp import BigQueryResource

from creditrisk import wiring
from creditrisk.alerts import Alerter
from creditrisk.monitoring.concept import ConceptRule
from creditrisk.monitoring.drift_rule import DriftRule
from creditrisk.monitoring.episodes import MIN_CHANGE_TRAIN_ROWS
from creditrisk.monitoring.quality import QualityRule
from creditrisk.monitoring.realized import RealizedRule
from creditrisk.monitoring.windows import EVALUATION_DAYS, REFERENCE_WEEKS
from creditrisk.registry.changes import ModelChanges, MoveRefused
from creditrisk.registry.client import Registry
from creditrisk.registry.policy import ChangePolicy
from creditrisk.settings import DEPLOYMENT_VARIABLES, Settings, get_settings
from creditrisk.store.base import RequestStore
from creditrisk.training.retraining import PRODUCTION_WEIGHT

if TYPE_CHECKING:
    from creditrisk.monitoring.report import MonitorRule


class StoreResource(dg.ConfigurableResource):
    """The request store that `creditrisk.wiring` picks for `env` (BigQuery through dagster-gcp)."""

    env: str = "local"
    home: str = ".creditrisk"
    store_dir: str | None = None  # local store folder other than $CREDITRISK_HOME/requests
    bq_project: str | None = None
    bq_dataset: str = "creditrisk"
    bq_emulator_host: str | None = None  # BIGQUERY_EMULATOR_HOST: the rehearsal's emulator
    bigquery: BigQueryResource  # the production store's client; never opened locally

    def get_store(self) -> RequestStore:
        settings = _settings(CREDITRISK_ENV=self.env, CREDITRISK_HOME=self.home,
                             CREDITRISK_BQ_PROJECT=self.bq_project, CREDITRISK_BQ_DATASET=self.bq_dataset,
                             BIGQUERY_EMULATOR_HOST=self.bq_emulator_host)
        return wiring.make_store(settings.with_overrides(store_dir=self.store_dir), self.bigquery.get_client)


class RegistryResource(dg.ConfigurableResource):
    """The MLflow tracking server and registry that `creditrisk.wiring` builds for `tracking_uri`."""

    tracking_uri: str
    home: str = ".creditrisk"
    env: str = "local"
    lock_uri: str | None = None  # CREDITRISK_LOCK_URI: the shared registry lock (required in production)

    def get_registry(self) -> Registry:
        return wiring.make_registry(self._settings())

    def get_changes(self) -> ModelChanges:
        """Change control on this registry: locked, audited moves between version states."""
        return wiring.make_changes(self._settings())

    def actor_for(self, run_id: str) -> str:
        """Who a run's moves are recorded as: in production the identity the MLflow server
        authenticates (so four eyes keeps that identity from approving what it trained), locally the run."""
        settings = self._settings()
        return settings.actor if settings.is_production else f"dagster run {run_id}"

    def _settings(self) -> Settings:
        return _settings(CREDITRISK_MLFLOW_URI=self.tracking_uri, CREDITRISK_HOME=self.home,
                         CREDITRISK_ENV=self.env, CREDITRISK_LOCK_URI=self.lock_uri)


# Change control's settings (`creditrisk.registry.policy`) and the base training data: the
# deployment's environment sets them. They are fields here only so that a launch which sets one is
# refused and audited (`LoopConfig.refuse_launch_overrides`) rather than taken or silently ignored.
DEPLOYMENT_ONLY = ("promotion", "min_evaluation_rows", "min_auc_gain", "max_brier_increase",
                   "max_recall_drop", "min_candidate_auc", "max_candidate_brier", "base_data_path")


def deployment() -> Settings:
    """The deployment's settings, from this process's environment (never from a run's configuration)."""
    return get_settings()


class LoopConfig(dg.ConfigurableResource):
    """The loop's monitoring knobs (defaults from the core's rule objects), editable per deployment."""
    reference_weeks: int = REFERENCE_WEEKS
    min_weekly_requests: int = DriftRule.min_rows
    drift_share: float = DriftRule.drift_share
    max_null_rate: float = QualityRule.max_null_rate
    evaluation_days: int = EVALUATION_DAYS
    min_realized_auc: float = RealizedRule.min_auc
    min_realized_rows: int = RealizedRule.min_rows  # labelled rows the realized-AUC alert needs
    performance_weeks: int = RealizedRule.weeks
    label_due_days: int = RealizedRule.label_due_days  # a real book's outcomes take months: set it
    max_label_age_days: float = RealizedRule.max_label_age_days
    min_importance_share: float = DriftRule.min_importance_share
    concept_confidence: float = ConceptRule.confidence
    concept_margin: float = ConceptRule.margin
    concept_min_rows: int = ConceptRule.min_rows
    concept_baseline_weeks: int = ConceptRule.baseline_weeks
    concept_recent_weeks: int = ConceptRule.recent_weeks
    min_change_train_rows: int = MIN_CHANGE_TRAIN_ROWS
    production_weight: float = PRODUCTION_WEIGHT
    reports_dir: str = ".creditrisk/reports"
    alert_webhook_url: str | None = None
    pushgateway_url: str | None = None  # CREDITRISK_PUSHGATEWAY: the loop's figures for Prometheus
    training_data: str = "copy"  # CREDITRISK_LOG_TRAINING_DATA: `reference` copies no applicant row to MLflow
    # Deployment-only (DEPLOYMENT_ONLY): None unless a launch sets them, and then the run is refused.
    promotion: str | None = None
    min_evaluation_rows: int | None = None
    min_auc_gain: float | None = None
    max_brier_increase: float | None = None
    max_recall_drop: float | None = None
    min_candidate_auc: float | None = None
    max_candidate_brier: float | None = None
    base_data_path: str | None = None

    def _overrides(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in DEPLOYMENT_ONLY if getattr(self, k) is not None}

    def refuse_launch_overrides(self, changes: ModelChanges, actor: str) -> None:
        """Fail the run, with an audit event naming them, when its launch set a deployment-only field."""
        if overrides := self._overrides():
            try:
                changes.refuse_overrides(overrides, actor=actor)
            except MoveRefused as exc:
                raise dg.Failure(description=str(exc)) from None

    def _deployment(self) -> Settings:
        """The deployment's settings; a run whose launch set a deployment-only field fails, naming it
        (runs that move no model have nothing to record it against)."""
        if overrides := self._overrides():
            raise dg.Failure(description=f"a run's launch configuration may not set {', '.join(overrides)}: "
                             "deployment settings (README \"Configuration\")")
        return deployment()

    def base_data_source(self) -> str | None:
        """CREDITRISK_DATA: the CSV of the base training data (None: the synthetic generator)."""
        return self._deployment().base_data

    def base_data(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        from creditrisk.applicants.data import load_base_data

        raw, clean, _ = load_base_data(self.base_data_source())
        return raw, clean

    def realized_rule(self) -> RealizedRule:
        return RealizedRule(self.min_realized_auc, self.min_realized_rows, self.performance_weeks,
                            self.label_due_days, self.max_label_age_days)

    def quality_rule(self) -> QualityRule:
        return QualityRule(self.max_null_rate)

    def monitor_rule(self) -> "MonitorRule":
        """The weekly report's rule (drift, concept drift, when a change can be learned)."""
        from creditrisk.monitoring.report import MonitorRule  # Evidently: only when a report runs

        return MonitorRule(
            drift=DriftRule(drift_share=self.drift_share, min_importance_share=self.min_importance_share),
            concept=ConceptRule(self.concept_confidence, self.concept_margin, self.concept_min_rows,
                                self.concept_baseline_weeks, self.concept_recent_weeks),
            min_rows=self.min_weekly_requests, min_change_train_rows=self.min_change_train_rows,
            min_evaluation_rows=ChangePolicy.from_settings(self._deployment()).evidence.min_rows)

    def alerter(self) -> Alerter:
        return wiring.make_alerter(_settings(CREDITRISK_ALERT_WEBHOOK=self.alert_webhook_url))

    def push_figures(self, step: str, figures: dict[str, float], labels: dict[str, str],
                     log: logging.Logger) -> dict[str, Any]:
        """Push one step's figures to the pushgateway; the metadata that says whether it arrived."""
        from creditrisk.monitoring.exported import push

        pushed = push(self.pushgateway_url, step, figures, labels)
        if not pushed.delivered and self.pushgateway_url:
            log.warning(f"{step}: figures not pushed to Prometheus: {pushed.problem}")
        return pushed.metadata()

    def report_path(self, name: str) -> Path:
        path = Path(self.reports_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def build_resources(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Resources for CREDITRISK_ENV; production endpoints stay `EnvVar`s until a run starts."""
    settings = get_settings(environ)
    ChangePolicy.from_settings(settings)  # a bad policy value stops the code location at load, named
    # Which parts is wiring's call; here only how Dagster resolves their endpoints.
    project = dg.EnvVar("CREDITRISK_BQ_PROJECT") if settings.is_production else settings.bq_project
    uri = dg.EnvVar("CREDITRISK_MLFLOW_URI") if settings.is_production else settings.mlflow_uri
    return {
        "store": StoreResource(env=settings.env, home=str(settings.home), bq_project=project,
                               bq_dataset=settings.bq_dataset, bq_emulator_host=settings.bq_emulator,
                               bigquery=BigQueryResource(project=project)),
        "registry": RegistryResource(tracking_uri=uri, home=str(settings.home), env=settings.env,
                                     lock_uri=dg.EnvVar("CREDITRISK_LOCK_URI") if settings.is_production
                                     else settings.lock_uri),
        # Optional values: an unset EnvVar would fail every run, so whether they are set is read when the
        # code loads; the webhook URL (a secret) stays an EnvVar then, or the UI would show its value.
        "loop": LoopConfig(reports_dir=str(settings.reports_dir), training_data=settings.log_training_data,
                           alert_webhook_url=dg.EnvVar("CREDITRISK_ALERT_WEBHOOK") if settings.alert_webhook
                           else None,
                           # a gateway URL may carry credentials: an EnvVar too
                           pushgateway_url=dg.EnvVar("CREDITRISK_PUSHGATEWAY") if settings.pushgateway
                           else None),
    }


def _settings(**values: str | None) -> Settings:
    """Settings from resource fields named as their environment variables (unset ones omitted), with
    the deployment's change policy and identity from this process's environment."""
    environ = {k: os.environ[k] for k in DEPLOYMENT_VARIABLES if k in os.environ}
    return get_settings({**environ, **{k: v for k, v in values.items() if v}})
