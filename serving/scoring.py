"""Scoring one batch of validated rows with one loaded model, with reason codes for denials only.

Reason codes are computed for denials only: they are the adverse-action reasons a denied applicant
is owed, and skipping them for approvals keeps the common case at the cost of the score (~0.25 ms)
instead of score + contributions (~0.75 ms per single-row call).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditrisk.model.credit_model import decision_names
from creditrisk.model.explain import Reason, reason_codes
from creditrisk.registry.client import LoadedModel


@dataclass(frozen=True)
class Scored:
    probability: float
    prediction: int
    decision: str
    reasons: list[Reason]
    loaded: LoadedModel


def score_batch(loaded: LoadedModel, rows: list[dict[str, Any]]) -> list[Scored]:
    """Score validated rows with one model; reasons only for the rows it denies."""
    model = loaded.model
    X = model.spec.encode_rows(rows)
    proba = model.predict_proba(X)
    pred = model.predict(proba)
    decisions = decision_names(pred)
    denied = np.flatnonzero(pred)
    reasons: list[list[Reason]] = [[] for _ in rows]
    if len(denied):
        for i, r in zip(denied, reason_codes(model, X[denied]), strict=True):
            reasons[i] = r
    return [Scored(float(p), int(pred[i]), str(decisions[i]), reasons[i], loaded)
            for i, p in enumerate(proba)]
