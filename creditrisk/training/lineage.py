"""Training data by reference: what a run trained on, recorded without copying applicants' rows.

Every training run records its data with MLflow's dataset tracking (the run's *Inputs*: source,
time window of the production rows, the outcome cut-off, row count) and a SHA-256 of the whole
training frame (MLflow's own pandas digest covers only the first 10,000 rows). Copies of the rows
as Parquet artifacts are written only under the `copy` policy (CREDITRISK_LOG_TRAINING_DATA; the
default locally, as the original design did); production runs `reference`, so no applicant row
leaves the request store for MLflow.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.data.code_dataset_source import CodeDatasetSource

from creditrisk.applicants.schema import LABEL

COPY, REFERENCE = "copy", "reference"


def content_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of a frame's column names, dtypes and every value (row order included)."""
    h = hashlib.sha256(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class DataReference:
    """Where a run's training rows came from, precisely enough to read them again."""

    source: str
    window: str = "none"  # the time window of the production rows, if any
    outcome_cutoff: str = "none"  # only outcomes reported before this moment were joined
    policy: str = COPY

    def __post_init__(self) -> None:
        if self.policy not in (COPY, REFERENCE):
            raise ValueError(f"CREDITRISK_LOG_TRAINING_DATA must be 'copy' or 'reference', "
                             f"got {self.policy!r}")


def log_training_data(ref: DataReference, training: pd.DataFrame, copies: dict[str, pd.DataFrame],
                      folder: Path) -> str:
    """Record `training` by reference in the active run; copy `copies` only under the copy policy."""
    digest = content_sha256(training)
    source = CodeDatasetSource({"source": ref.source, "window": ref.window,
                                "outcome_cutoff": ref.outcome_cutoff, "sha256": digest})
    mlflow.log_input(mlflow.data.from_pandas(training, source=source, targets=LABEL, name="training",
                                             digest=digest[:32]), context="training")
    mlflow.log_params({"training_data.rows": len(training), "training_data.sha256": digest,
                       "training_data.window": ref.window, "training_data.outcome_cutoff": ref.outcome_cutoff,
                       "training_data.policy": ref.policy})
    if ref.policy == COPY:
        for name, frame in copies.items():
            path = folder / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            mlflow.log_artifact(str(path), "data")
    return digest
