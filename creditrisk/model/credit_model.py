"""Train, evaluate and score the XGBoost default model.

`CreditModel` is what travels inside the MLflow artifact: the booster (XGBoost's own JSON format,
no pickle), the `FeatureSpec` and the decision threshold. Scoring goes through
`Booster.inplace_predict` on a float32 array: ~0.2 ms for one applicant, where `predict_proba` on
a one-row DataFrame costs ~15 ms.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    classification_report,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

from creditrisk.applicants.schema import LABEL
from creditrisk.model.features import FeatureSpec
from creditrisk.model.pricing import PricingAttribution

DECISION_THRESHOLD = 0.40  # probability of default at or above which we deny; see README "Decision threshold"
DECISION_APPROVED = "pre-approved"
DECISION_DENIED = "denied"
HOLDOUT_FRACTION = 0.30
RANDOM_SEED = 42
# Reg B's age rule (creditrisk.model.fairness): person_age may only lower the probability of default
# as it grows, for every profile, so the rule holds by construction. Chosen over an additive age with
# its 62+ part fixed: 5-fold AUC cost measured by bench/model_quality.py (README "Fair lending").
AGE_MONOTONE = -1
PRICING_FIT_ROWS = 10_000  # training rows the pricing attribution is fitted on (0.4 s on 800 trees)

BOOSTER_FILE = "booster.json"
META_FILE = "model_meta.json"
WEIGHT = "sample_weight"  # optional training column: recent production rows can count more


def predictions(proba: np.ndarray, threshold: float) -> np.ndarray:
    """The decision rule, written once: 1 (deny) where the probability of default is >= threshold."""
    return (np.asarray(proba) >= threshold).astype(np.int64)


def decision_names(pred: np.ndarray) -> np.ndarray:
    """"denied" for 1, "pre-approved" for 0: the words the portal and the log use."""
    return np.where(np.asarray(pred) == 1, DECISION_DENIED, DECISION_APPROVED)


@dataclass(frozen=True)
class TrainConfig:
    """Chosen by 5-fold CV on the real data (README "Model"); 800 shallow trees score fast.

    `age_monotone` -1 makes the probability of default non-increasing in person_age for every
    profile (Reg B's age rule, README "Fair lending"); 0 lifts the constraint (benchmarks only)."""
    max_depth: int = 5
    eta: float = 0.05
    num_rounds: int = 800
    colsample_bytree: float = 0.8
    min_child_weight: float = 1.0
    seed: int = RANDOM_SEED
    nthread: int = 2
    age_monotone: int = AGE_MONOTONE

    def xgb_params(self) -> dict[str, Any]:
        params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": self.max_depth,
                  "eta": self.eta, "colsample_bytree": self.colsample_bytree,
                  "min_child_weight": self.min_child_weight, "seed": self.seed, "nthread": self.nthread}
        if self.age_monotone:
            params["monotone_constraints"] = {"person_age": self.age_monotone}
        return params


class CreditModel:
    """Probability of default for applicants; 1 = predicted default, as the original service."""

    def __init__(self, booster: xgb.Booster, spec: FeatureSpec, threshold: float = DECISION_THRESHOLD,
                 pricing: PricingAttribution | None = None):
        self.booster = booster
        self.spec = spec
        self.threshold = float(threshold)
        # how reasons credit grade and rate to characteristics (creditrisk.model.pricing)
        self.pricing = pricing

    def predict(self, proba: np.ndarray) -> np.ndarray:
        """This model's decisions (1 = deny) for probabilities it scored, at its own threshold."""
        return predictions(proba, self.threshold)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(X, validate_features=False), dtype=np.float64)

    def score_rows(self, rows: Iterable[Mapping[str, Any]]) -> np.ndarray:
        return self.predict_proba(self.spec.encode_rows(rows))

    def score_frame(self, df: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(self.spec.encode_frame(df))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-feature log-odds contributions (Saabas approximation; exact TreeSHAP is ~40x slower).

        Returns shape (n, n_features); the bias column is dropped.
        """
        dm = xgb.DMatrix(X, feature_names=self.spec.columns, feature_types=self.spec.feature_types,
                         enable_categorical=True)
        return self.booster.predict(dm, pred_contribs=True, approx_contribs=True)[:, :-1]

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER_FILE)
        self.spec.save(folder)
        (folder / META_FILE).write_text(json.dumps({"threshold": self.threshold}))
        if self.pricing is not None:
            self.pricing.save(folder)
        return folder

    @classmethod
    def load(cls, folder: Path) -> CreditModel:
        folder = Path(folder)
        booster = xgb.Booster(model_file=str(folder / BOOSTER_FILE))
        booster.set_param({"nthread": 1})  # one scoring thread per replica; replicas scale out
        meta = json.loads((folder / META_FILE).read_text())
        return cls(booster, FeatureSpec.load(folder), meta["threshold"], PricingAttribution.load(folder))


def split_holdout(df: pd.DataFrame, fraction: float = HOLDOUT_FRACTION,
                  seed: int = RANDOM_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/holdout split on the label."""
    train, hold = train_test_split(df, test_size=fraction, stratify=df[LABEL], random_state=seed)
    return train.reset_index(drop=True), hold.reset_index(drop=True)


def train(df: pd.DataFrame, config: TrainConfig | None = None,
          threshold: float = DECISION_THRESHOLD) -> CreditModel:
    config = config or TrainConfig()
    spec = FeatureSpec.default()
    weight = df[WEIGHT].to_numpy() if WEIGHT in df.columns else None
    dtrain = xgb.DMatrix(spec.encode_frame(df), label=df[LABEL].to_numpy(), weight=weight,
                         feature_names=spec.columns, feature_types=spec.feature_types,
                         enable_categorical=True)
    booster = xgb.train(config.xgb_params(), dtrain, num_boost_round=config.num_rounds)
    model = CreditModel(booster, spec, threshold)
    sample = df.sample(min(len(df), PRICING_FIT_ROWS), random_state=config.seed)
    X = spec.encode_frame(sample)
    model.pricing = PricingAttribution.fit(spec, X, model.contributions(X))
    return model


def metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """The tracked metrics: per-class precision/recall/F1, accuracy, ROC AUC, PR AUC, Brier."""
    y = np.asarray(y, dtype=int)
    pred = predictions(proba, threshold)
    out = {"accuracy": accuracy_score(y, pred), "brier": brier_score_loss(y, proba),
           "roc_auc": roc_auc_score(y, proba) if len(set(y)) == 2 else float("nan"),
           "pr_auc": average_precision_score(y, proba) if y.any() else float("nan"),
           "threshold": threshold, "n_rows": float(len(y)), "default_rate": float(y.mean())}
    for cls, name in ((1, "default"), (0, "repaid")):
        kw = {"pos_label": cls, "zero_division": 0}
        out[f"precision_{name}"] = precision_score(y, pred, **kw)
        out[f"recall_{name}"] = recall_score(y, pred, **kw)
        out[f"f1_{name}"] = f1_score(y, pred, **kw)
    return {k: float(v) for k, v in out.items()}


def evaluate(model: CreditModel, df: pd.DataFrame) -> dict[str, float]:
    return metrics(df[LABEL].to_numpy(), model.score_frame(df), model.threshold)


def report_text(model: CreditModel, df: pd.DataFrame) -> str:
    pred = model.predict(model.score_frame(df))
    return classification_report(df[LABEL].to_numpy(), pred, target_names=["repaid (0)", "default (1)"],
                                 digits=4, zero_division=0)


def config_dict(config: TrainConfig) -> dict[str, Any]:
    return asdict(config)
