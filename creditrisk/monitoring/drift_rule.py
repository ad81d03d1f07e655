"""What makes a drift report a retraining matter: broad shifts, or one strong shift that the model relies on.

Evidently's rule (share of drifted columns >= `drift_share`) stays for broad shifts. It misses a
large shift of one column: +4 points on every interest rate moves 1 of 11 columns. So a column
also flags drift on its own when Evidently says it drifted, its score clears the strong threshold
of its test, and it carries at least `min_importance_share` of the champion's mean absolute
contribution on the current week (its own explanation of these rows): a large move of a column
the model barely uses (a past default on file, credit history) changes few decisions.

Distance scores of two samples are noisy in proportion to 1/sqrt(rows); the strong thresholds
are calibrated at `calibration_rows` current rows and scale up by sqrt(calibration_rows / n) for
smaller weeks, so a quiet week does not false-alarm more often than a normal one.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from creditrisk.constants import (
    DRIFT_CALIBRATION_ROWS,
    DRIFT_SHARE,
    IMPORTANCE_ROWS,
    MIN_IMPORTANCE_SHARE,
    STRONG_DRIFT_SCORES,
)
from creditrisk.model.credit_model import CreditModel
from creditrisk.model.explain import MERGED_INTO

Importance = Mapping[str, float] | Callable[[], Mapping[str, float]]


class Scored(Protocol):
    """One column's Evidently verdict (creditrisk.monitoring.drift.ColumnDrift)."""

    column: str
    test: str
    score: float
    drifted: bool


@dataclass(frozen=True)
class DriftRule:
    """The numbers of the decision; see creditrisk.constants for the measurements behind them."""

    drift_share: float = DRIFT_SHARE
    strong_scores: Mapping[str, float] = field(default_factory=lambda: dict(STRONG_DRIFT_SCORES))
    min_importance_share: float = MIN_IMPORTANCE_SHARE
    calibration_rows: int = DRIFT_CALIBRATION_ROWS

    def strong_threshold(self, test: str, n_current: int) -> float:
        """The score `test` must reach on a week of `n_current` rows; infinite for tests without one."""
        base = self.strong_scores.get(test)
        if base is None:  # p-value tests (reference <= 1,000 rows): their verdict depends on n
            return math.inf
        return base * max(1.0, math.sqrt(self.calibration_rows / max(n_current, 1)))


def importance_shares(model: CreditModel, frame: pd.DataFrame,
                      max_rows: int = IMPORTANCE_ROWS) -> dict[str, float]:
    """Each schema column's share of the model's mean |contribution| on `frame` (derived columns merged).

    A week larger than `max_rows` is explained on a seeded sample of that many rows: contributions
    cost a tree walk per row and tree, and a share is a mean, settled well before the whole week.
    """
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=0)
    contrib = np.abs(model.contributions(model.spec.encode_frame(frame))).mean(axis=0)
    out: dict[str, float] = {}
    for name, value in zip(model.spec.columns, contrib, strict=True):
        key = MERGED_INTO.get(name, name)
        out[key] = out.get(key, 0.0) + float(value)
    total = sum(out.values())
    return {k: v / total if total > 0 else 0.0 for k, v in out.items()}


def strong_columns(columns: Sequence[Scored], n_current: int, importance: Importance | None,
                   rule: DriftRule) -> tuple[list[str], dict[str, float]]:
    """(columns that flag drift on their own, the importance shares consulted).

    The model is asked only when some drifted column clears its strong threshold: a quiet week
    costs no contributions.
    """
    candidates = [c for c in columns if c.drifted and c.score >= rule.strong_threshold(c.test, n_current)]
    if not candidates or importance is None:
        return [], {}
    shares = dict(importance() if callable(importance) else importance)
    return [c.column for c in candidates if shares.get(c.column, 0.0) >= rule.min_importance_share], shares
