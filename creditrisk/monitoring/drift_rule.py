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

from creditrisk.model.credit_model import CreditModel
from creditrisk.model.explain import MERGED_INTO

Importance = Mapping[str, float] | Callable[[], Mapping[str, float]]
IMPORTANCE_ROWS = 500  # rows of the week whose contributions give the importance shares
# From bench/detection.py (1,500 requests/week, 13-week reference, 1,040 undrifted weeks of 20 seeds):
# the largest per-column score under `none` was 0.111 (Wasserstein, normed) and 0.047 (Jensen-Shannon).
# A threshold is 1.5x that (a reference of one week, just after a change, is ~1.4x noisier than 13),
# on a 0.05 grid, and never below Evidently's own 0.1: 0.20 and 0.10. No undrifted week flagged on
# one column; every named covariate scenario at full magnitude flagged in its first week (scores
# 0.21-1.24).
STRONG_DRIFT_SCORES = {"Wasserstein distance (normed)": 0.20, "Jensen-Shannon distance": 0.10}


class Scored(Protocol):
    """One column's Evidently verdict (creditrisk.monitoring.drift.ColumnDrift)."""

    column: str
    test: str
    score: float
    drifted: bool


@dataclass(frozen=True)
class DriftRule:
    """The numbers of the drift decision, each with the measurement behind it."""

    # Dataset drift when >= 2 of the 11 columns drifted (README "Monitoring").
    drift_share: float = 0.15
    strong_scores: Mapping[str, float] = field(default_factory=lambda: dict(STRONG_DRIFT_SCORES))
    # The columns the scenarios move carried >= 0.095 of the importance in their first drifted week,
    # the five least used ones <= 0.040: half the smallest of the former.
    min_importance_share: float = 0.05
    # The strong thresholds hold at this many current rows and scale by sqrt(rows / n) below it.
    calibration_rows: int = 1_500
    # The volume gate: a week with fewer requests gets no drift verdict (its scores are noise).
    min_rows: int = 120

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
