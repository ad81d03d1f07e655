"""One training run end to end: split, fit, evaluate, log to MLflow, register a version.

Used by `creditrisk bootstrap` (first champion) and by the `candidate_model` asset (challenger),
so both produce identical runs: the original design's params, per-class metrics, the model with
signature and input example, classification_report.txt, raw/preprocessed/processed data, ROC and
calibration plots.
"""
from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from creditrisk.applicants.schema import FEATURES, LABEL
from creditrisk.model.credit_model import (
    WEIGHT,
    CreditModel,
    TrainConfig,
    config_dict,
    evaluate,
    report_text,
    split_holdout,
    train,
)
from creditrisk.model.pyfunc import ARTIFACT_KEY, CreditRiskPyfunc, predict_frame
from creditrisk.registry.client import Registry
from creditrisk.registry.validation import CANARY_TAG, canary_applicants, record_canary
from creditrisk.training import plots
from creditrisk.training.holdout import HoldoutReport
from creditrisk.training.lineage import DataReference, log_training_data

Progress = Callable[[str], None]
# Serving never installs from these; they document what the artifact needs (and avoid a 5-9 s pip probe).
PIP_REQUIREMENTS = ["xgboost>=3.2,<3.3", "pandas>=2.3,<3", "numpy>=2.1,<3", "scikit-learn>=1.9,<1.10",
                    "mlflow>=3.17,<3.18", "creditrisk"]


@dataclass
class TrainingResult:
    model: CreditModel
    run_id: str
    version: str
    metrics: dict[str, float]
    rows: dict[str, int] = field(default_factory=dict)
    report: HoldoutReport | None = None  # intervals, the age rule, group outcomes (logged with the run)


def _shape(df: pd.DataFrame) -> str:
    return f"{df.shape[0]}x{df.shape[1]}"


def train_and_register(registry: Registry, raw: pd.DataFrame, preprocessed: pd.DataFrame, *,
                       run_name: str, source: str | DataReference,
                       config: TrainConfig | None = None, tags: dict[str, str] | None = None,
                       progress: Progress = lambda _msg: None) -> TrainingResult:
    """Train on `preprocessed` (clean rows with labels), log everything, register a version.

    `source` says where the rows came from (a `DataReference`, or a plain name under the copy
    policy). The version gets no alias: what it becomes is decided by `creditrisk.registry.changes`."""
    ref = source if isinstance(source, DataReference) else DataReference(source)
    source = ref.source
    config = config or TrainConfig()
    keep = FEATURES + [LABEL] + ([WEIGHT] if WEIGHT in preprocessed.columns else [])
    train_df, holdout = split_holdout(preprocessed[keep], seed=config.seed)
    progress(f"training XGBoost on {len(train_df):,} rows ({config.num_rounds} trees)")
    model = train(train_df, config)
    scores = evaluate(model, holdout)
    report = HoldoutReport.compute(model, holdout, train_df)
    processed = pd.DataFrame(model.spec.encode_frame(train_df), columns=model.spec.columns)
    if WEIGHT in train_df.columns:
        processed[WEIGHT] = train_df[WEIGHT].to_numpy()
    processed[LABEL] = train_df[LABEL].to_numpy()
    progress(f"holdout ROC AUC {scores['roc_auc']:.4f}; logging run to MLflow")
    with registry.run(run_name, tags={"source": source, **(tags or {})}) as run_id:
        mlflow.log_params({
            "rawdataset_shape": _shape(raw), "rawdataset_columns": list(raw.columns),
            "preprocesseddataset_shape": _shape(preprocessed),
            "preprocesseddataset_columns": list(preprocessed.columns),
            "processeddataset_shape": _shape(processed), "processeddataset_columns": list(processed.columns),
            "holdout_rows": len(holdout), "data_source": source, **config_dict(config),
        })
        mlflow.log_metrics({k: v for k, v in scores.items() if not math.isnan(v)})
        report.log()
        mlflow.log_text(report_text(model, holdout), "classification_report.txt")
        y, proba = holdout[LABEL].to_numpy(), model.score_frame(holdout)
        for name, fig in (("roc_curve.png", plots.roc_figure(y, proba, scores["roc_auc"])),
                          ("calibration.png", plots.calibration_figure(y, proba, scores["brier"]))):
            mlflow.log_figure(fig, f"plots/{name}")
            plots.close(fig)
        with tempfile.TemporaryDirectory() as tmp:
            log_training_data(ref, preprocessed, {"raw": raw, "preprocessed": preprocessed,
                                                  "processed": processed}, Path(tmp))
            model_dir = model.save(Path(tmp) / "credit_model")
            canary = record_canary(model, model_dir)  # what the validation gate compares later loads with
            # The input example is synthetic: no applicant's row goes into the model's files.
            example = pd.DataFrame(canary_applicants()[:5])[FEATURES]
            with warnings.catch_warnings():  # "integer column" hint: person_age is never missing
                warnings.simplefilter("ignore", UserWarning)
                signature = infer_signature(example, predict_frame(model, example))
            info = mlflow.pyfunc.log_model(
                name="model", python_model=CreditRiskPyfunc(), artifacts={ARTIFACT_KEY: str(model_dir)},
                signature=signature,
                input_example=example, pip_requirements=PIP_REQUIREMENTS)
    version = registry.register(info.model_uri, run_id,
                                tags={"source": source, "roc_auc": f"{scores['roc_auc']:.4f}",
                                      CANARY_TAG: canary})
    progress(f"registered {registry.model_name} version {version}")
    return TrainingResult(model, run_id, version, scores,
                          {"train": len(train_df), "holdout": len(holdout), "raw": len(raw)}, report)
