"""Label-free performance estimate (confidence-based, as NannyML's CBPE): the week's expected metrics.

If the champion's probabilities are calibrated, applicant i defaults with probability q_i, so the
expected confusion matrix at any threshold t is TP = sum of q over the denied (p >= t), FP = sum of
1 - q over them, FN and TN likewise over the approved. Sweeping t over every score gives the
expected ROC curve, hence an expected AUC (ties count half, an applicant is never paired with
itself); the default rate is the mean of q and default recall at the served threshold is TP / sum q.
It covers every applicant of the week, the denied included, whose outcomes no bank ever sees.

Calibration: q = sigmoid(a * logit(p) + b) (Platt scaling of the champion's own scores), fitted on
the champion's labelled rows from its first weeks in service; without enough of them, q = p (a
Platt fit on a few hundred approved applicants errs more than the raw scores do).
Assumptions: calibration holds on the new rows (covariate shift that the model's features
explain) and the relation between features and defaults is unchanged. Under concept drift the
estimate is wrong by construction; the concept rule and the realized AUC are the check on it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from creditrisk.model.calibration import Calibration
from creditrisk.monitoring.concept import auc_and_variance


@dataclass(frozen=True)
class Metrics:
    """AUC, default rate and default recall at `threshold`, expected (estimate) or realized."""

    auc: float
    default_rate: float
    recall: float
    rows: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def expected_auc(p: np.ndarray, q: np.ndarray) -> float:
    """Expected AUC of ranking by `p` when applicant i defaults with probability q_i."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    scores, group = np.unique(p, return_inverse=True)  # ascending; equal scores share a group
    pos = np.bincount(group, weights=q, minlength=len(scores))
    neg = np.bincount(group, weights=1 - q, minlength=len(scores))
    below = np.cumsum(neg) - neg  # expected repayers scored strictly lower
    self_pairs = float(np.sum(q * (1 - q)))
    wins = float(np.sum(pos * (below + neg / 2))) - self_pairs / 2
    pairs = float(pos.sum() * neg.sum()) - self_pairs
    return wins / pairs if pairs > 0 else float("nan")


def estimate(p: np.ndarray, threshold: float, calibration: Calibration | None = None) -> Metrics:
    """The expected metrics of the decisions `p >= threshold` (deny) on these applicants."""
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return Metrics(float("nan"), float("nan"), float("nan"), 0)
    q = (calibration or Calibration()).apply(p)
    total = float(q.sum())
    recall = float(q[p >= threshold].sum() / total) if total > 0 else float("nan")
    return Metrics(expected_auc(p, q), float(q.mean()), recall, len(p))


def realized(y: np.ndarray, p: np.ndarray, threshold: float) -> Metrics:
    """The same metrics from known outcomes (NaN where a metric needs a class that is absent)."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    if len(y) == 0:
        return Metrics(float("nan"), float("nan"), float("nan"), 0)
    auc = auc_and_variance(y, p)[0] if 0 < y.sum() < len(y) else float("nan")
    recall = float((p[y == 1] >= threshold).mean()) if y.any() else float("nan")
    return Metrics(auc, float(y.mean()), recall, len(y))


def calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: row-weighted |observed − predicted| default rate over equal-count bins."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    gaps = [abs(y[b].mean() - p[b].mean()) * len(b) for b in np.array_split(order, min(bins, len(y)))]
    return float(sum(gaps) / len(y))
