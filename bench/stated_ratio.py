"""The model as it was before issue 22, for benchmarks that measure against it in the same run.

Until then the model was trained on loan_percent_income as the data file states it and scored with
the value the applicant stated. Now the server computes it (creditrisk.applicants.schema) and the
base data and training frames carry the server's value. `fit_stated` trains on the file's own value,
kept as `stated_lpi` beside the server's; `StatedRatio` scores frames with it too (request rows
already carry what the applicant stated).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from creditrisk.applicants.data import clean, read_csv
from creditrisk.applicants.synth import generate
from creditrisk.model.credit_model import CreditModel, TrainConfig, train

STATED = "stated_lpi"  # the file's own loan_percent_income, beside the server's


def base_with_stated(path: Path | None, rows: int = 32_581, seed: int = 42) -> tuple[pd.DataFrame, str]:
    """The clean base data (loan_percent_income as the server computes it) with the file's own value
    kept as `stated_lpi` (synthetic data states it as the server does); returns (frame, source)."""
    raw = read_csv(path) if path else generate(rows, seed=seed)
    frame, report = clean(raw.assign(**{STATED: raw["loan_percent_income"]}),
                          str(path) if path else f"synthetic(rows={rows}, seed={seed})")
    return frame, f"{report.path} ({len(frame):,} clean rows; the file states another loan_percent_income " \
                  f"in {report.loan_percent_income_recomputed:,} rows)"


def as_stated(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with loan_percent_income as the file stated it."""
    return df.assign(loan_percent_income=df[STATED])


class StatedRatio(CreditModel):
    """A model that scores a frame with its `stated_lpi`, as the model before issue 22 was fed."""

    def score_frame(self, df: pd.DataFrame) -> np.ndarray:
        return super().score_frame(as_stated(df))


def fit_stated(df: pd.DataFrame, config: TrainConfig | None = None) -> StatedRatio:
    """Trained as `creditrisk.model.credit_model.train` does, on the file's own values."""
    model = train(as_stated(df), config)
    return StatedRatio(model.booster, model.spec, model.threshold, model.pricing)
