"""Platt scaling of a model's own scores, fitted on labelled rows: what a calibrated probability is.

Used by the label-free estimate (`creditrisk.monitoring.performance`) and by the swap-set analysis
(`creditrisk.training.swaps`), so both calibrate the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

# The label-free estimate recalibrates the champion (Platt) on its baseline rows only from this many:
# fitted on n approved applicants' outcomes (30 draws each), the estimated AUC of a 30,000-applicant
# week was off by sd 0.016 / at most 0.054 with n = 1,200, sd 0.010 / at most 0.026 with 2,400,
# where the raw scores are off by +0.017 (the champion is a little over-confident).
MIN_CALIBRATION_ROWS = 2_000

EPS = 1e-6


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the model's log-odds; the identity when `rows` is 0."""

    slope: float = 1.0
    intercept: float = 0.0
    rows: int = 0

    def apply(self, p: np.ndarray) -> np.ndarray:
        if self.rows == 0:
            return np.asarray(p, dtype=float)
        return expit(self.slope * logit(np.clip(p, EPS, 1 - EPS)) + self.intercept)


def fit_calibration(y: np.ndarray, p: np.ndarray, min_rows: int = MIN_CALIBRATION_ROWS) -> Calibration:
    """Platt scaling fitted on labelled rows; the identity with fewer than `min_rows` or one class."""
    y = np.asarray(y, dtype=int)
    if len(y) < min_rows or len(np.unique(y)) < 2:
        return Calibration()
    x = logit(np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS))
    design = np.column_stack([x, np.ones_like(x)])
    coef = np.array([1.0, 0.0])
    for _ in range(50):  # Newton's method on two parameters: a few ms where a generic solver takes 50
        q = expit(design @ coef)
        hessian = design.T @ (design * (q * (1 - q))[:, None])
        step = np.linalg.solve(hessian + 1e-9 * np.eye(2), design.T @ (q - y))
        coef -= step
        if not np.all(np.isfinite(coef)):
            return Calibration()  # separable labels: no finite fit, keep the scores as they are
        if np.abs(step).max() < 1e-10:
            break
    return Calibration(float(coef[0]), float(coef[1]), len(y))
