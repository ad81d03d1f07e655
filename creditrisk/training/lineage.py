"""Training data by reference: what a run trained on, recorded without copying applicants' rows.

Every training run records its data with MLflow's dataset tracking (the run's *Inputs*: source,
time window of the production rows, the outcome cut-off, row count) and a SHA-256 of the whole
training frame (MLflow's own pandas digest covers only the first 10,000 rows). Copies of the rows
as Parquet artifacts are written only under the `copy` policy (CREDITRISK_LOG_TRAINING_DATA; the
default locally, as the original design did); production runs `reference`, so no applicant row
leaves the request store for MLflow. Retention reads the same record back (`referenced_windows`):
the production rows of a version that may still serve are never deleted.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.data.code_dataset_source import CodeDatasetSource

from creditrisk.applicants.schema import LABEL
from creditrisk.registry.client import Registry
from creditrisk.registry.states import State
from creditrisk.store.retention import EPOCH, KeepRange

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


# Versions whose training rows retention deletes: none of them serves again unless a person forces a
# rollback to it. Every other state (and a version with no state tag) may serve, so its rows stay.
SETTLED_STATES = frozenset({State.RETIRED, State.REJECTED, State.SUPERSEDED})
_END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


def training_window(params: Mapping[str, str]) -> tuple[datetime, datetime] | None:
    """The request times `[start, end)` a run trained on, from its lineage; None for base data only.

    `..END` read from the first request; a run that recorded no lineage may have read anything.
    """
    window = params.get("training_data.window")
    if window is None:
        return EPOCH, _END_OF_TIME
    if window == "none":
        return None
    first, sep, last = window.partition("..")
    try:
        start = datetime.fromisoformat(first).replace(tzinfo=UTC) if first else EPOCH
        end = datetime.fromisoformat(last).replace(tzinfo=UTC)
    except ValueError:
        sep = ""
    if not sep:
        raise ValueError(f"training_data.window {window!r} is not [START]..END")
    return start, end


def referenced_windows(registry: Registry) -> list[KeepRange]:
    """The training windows of every version not in `SETTLED_STATES`, each with the version it keeps."""
    kept = []
    for mv in sorted(registry.versions(), key=lambda v: int(v.version)):
        state = mv.tags.get("state", "no state")
        if state in SETTLED_STATES:
            continue
        params = registry.run_params(mv.run_id)
        window = training_window(params)
        if window is not None:
            recorded = params.get("training_data.window", "not recorded")
            why = f"training data of version {mv.version} ({state}, window {recorded})"
            kept.append(KeepRange(*window, why))
    return kept
