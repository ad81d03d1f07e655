"""Synthetic weeks of logged traffic for the asset-graph tests: generated, scored, labelled."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from creditrisk.applicants.labels import LabelDelay, report_times
from creditrisk.applicants.schema import FEATURES, LABEL
from creditrisk.applicants.synth import generate
from creditrisk.model.credit_model import CreditModel, decision_names
from creditrisk.store.base import RequestStore


def log_traffic(store: RequestStore, model: CreditModel, version: str, *, start: datetime, end: datetime,
                rows: int, seed: int, scenario: str = "none", drift_start: datetime | None = None,
                label_delay: timedelta = timedelta(days=3), bank: LabelDelay | None = None) -> pd.DataFrame:
    """Score generated applications with `model`, append them and their outcomes: all of them 3 days
    later, or with `bank` as a bank has them (approved applicants only, delays drawn from `bank`)."""
    apps = generate(rows, seed=seed, start=start, end=end, scenario=scenario, drift_start=drift_start)
    proba = model.score_frame(apps[FEATURES])
    pred = model.predict(proba)
    ids = [uuid.UUID(int=int(x)).hex for x in np.random.default_rng(seed).integers(0, 2**63, len(apps))]
    requests = apps[FEATURES].assign(
        request_id=ids, ts=apps["ts"], probability=proba, prediction=pred,
        decision=decision_names(pred), threshold=model.threshold,
        model_name="credit-risk", model_version=version, reasons=json.dumps([]), latency_ms=1.0)
    store.append_requests(requests)
    at = apps["ts"] + label_delay if bank is None else \
        report_times(apps["ts"], pred == 0, bank, np.random.default_rng(seed))
    known = at.notna().to_numpy()
    store.append_outcomes(pd.DataFrame({"request_id": np.array(ids)[known],
                                        LABEL: apps[LABEL].to_numpy()[known], "reported_at": at[known]}))
    return requests
