"""What a training run records about its holdout beyond the point metrics, for the model card.

Bootstrap confidence intervals of the metrics that decide loans, Regulation B's age rule on holdout
and synthetic profiles (`creditrisk.model.fairness`), and the outcomes by age band and home ownership.
Every number is logged as a run metric, so the card shows the run's own figures; the tables are
JSON artifacts under `fairness/` (aggregates only, no applicant row).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from scipy.stats import rankdata

from creditrisk.applicants.schema import FEATURES, LABEL
from creditrisk.model.credit_model import RANDOM_SEED, CreditModel
from creditrisk.model.fairness import AgeRuleResult, GroupRow, check_age_rule, group_metrics, group_outcomes

# Confidence intervals of the holdout metrics on the model card: bootstrap resamples of the holdout
# (200, 0.2 s: the ends move by <= 0.001 AUC and <= 0.005 recall between seeds on the real holdout)
CARD_CI_SAMPLES = 200
CARD_CI_CONFIDENCE = 0.95

CI_METRICS = ("roc_auc", "brier", "accuracy", "recall_default", "precision_default")
AGE_RULE_FILE, GROUPS_FILE = "fairness/age_rule.json", "fairness/groups.json"


def metric_intervals(y: np.ndarray, proba: np.ndarray, threshold: float, *, samples: int = CARD_CI_SAMPLES,
                     confidence: float = CARD_CI_CONFIDENCE, seed: int = RANDOM_SEED) -> dict[str, float]:
    """`<metric>_ci_low` / `_ci_high` of CI_METRICS: percentile bootstrap over holdout rows."""
    y, proba = np.asarray(y, dtype=float), np.asarray(proba, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(y), size=(samples, len(y)))
    ys, ps = y[idx], proba[idx]
    denied = ps >= threshold
    pos = ys.sum(axis=1)
    neg = len(y) - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {
            "roc_auc": ((rankdata(ps, axis=1) * ys).sum(axis=1) - pos * (pos + 1) / 2) / (pos * neg),
            "brier": ((ps - ys) ** 2).mean(axis=1),
            "accuracy": (denied == (ys == 1)).mean(axis=1),
            "recall_default": (denied & (ys == 1)).sum(axis=1) / pos,
            "precision_default": (denied & (ys == 1)).sum(axis=1) / denied.sum(axis=1),
        }
    alpha = (1 - confidence) / 2
    out = {}
    for name in CI_METRICS:
        v = values[name][np.isfinite(values[name])]  # a resample with no denial has no precision
        ends = [float(np.quantile(v, q)) if len(v) else float("nan") for q in (alpha, 1 - alpha)]
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = ends
    return out


@dataclass
class HoldoutReport:
    """Intervals, the age rule and group outcomes of one model on its holdout."""

    intervals: dict[str, float]
    age_rule: list[AgeRuleResult]
    groups: list[GroupRow]
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def compute(cls, model: CreditModel, holdout: pd.DataFrame, training: pd.DataFrame) -> HoldoutReport:
        y, proba = holdout[LABEL].to_numpy(), model.score_frame(holdout)
        extra = {"training_default_rate": float(training[LABEL].mean()),
                 "predicted_default_rate": float(proba.mean())}
        if model.pricing is not None:
            extra["pricing_attribution_r2"] = model.pricing.r2
        return cls(metric_intervals(y, proba, model.threshold), check_age_rule(model, holdout[FEATURES]),
                   group_outcomes(holdout, model.predict(proba), proba, y), extra)

    def age_rule_problems(self) -> list[str]:
        return [p for r in self.age_rule for p in r.problems()]

    def metrics(self) -> dict[str, float]:
        """Every finite figure as a flat run metric (an undefined one is shown as n/a)."""
        rule = {f"age_rule.{r.population.split()[0]}.{k}": float(getattr(r, k))
                for r in self.age_rule for k in ("profiles", "violations", "worst_gap")}
        every = {**self.intervals, **rule, **group_metrics(self.groups), **self.extra}
        return {k: v for k, v in every.items() if np.isfinite(v)}

    def log(self) -> None:
        """Log the metrics and the two tables to the active MLflow run."""
        mlflow.log_metrics(self.metrics())
        mlflow.log_dict([r.as_dict() for r in self.age_rule], AGE_RULE_FILE)
        mlflow.log_dict([_finite(r.as_dict()) for r in self.groups], GROUPS_FILE)


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    """NaN as null: JSON has no NaN."""
    return {k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in d.items()}
