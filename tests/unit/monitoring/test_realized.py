"""The realized-performance rule: judged only on enough labels, alerting below its AUC floor."""
from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from creditrisk.monitoring.realized import RealizedRule, realized_auc


def labelled(n: int, separation: float, seed: int = 0) -> pd.DataFrame:
    """`n` labelled rows whose logged probability ranks defaults with the given separation."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 + separation * (y - 0.5) + rng.normal(0, 0.2, n), 0, 1)
    return pd.DataFrame({"loan_status": y, "probability": p, "model_version": rng.choice(["1", "2"], n)})


def test_too_few_labelled_rows_are_not_judged_and_do_not_alert() -> None:
    result = RealizedRule(min_auc=0.72, min_rows=500).judge(labelled(499, separation=0.0))
    assert (result.judged, result.alert, result.labelled_rows) == (False, False, 499)
    assert result.reason == "insufficient labels to judge: 499 labelled rows < 500"


def test_a_poor_ranking_alerts_and_a_good_one_does_not() -> None:
    rule = RealizedRule(min_auc=0.72, min_rows=500)
    poor, good = rule.judge(labelled(2_000, separation=0.05)), rule.judge(labelled(2_000, separation=0.6))
    assert poor.alert and poor.auc < 0.72 and poor.reason.startswith("realized AUC 0.5")
    assert not good.alert and good.auc > 0.9
    assert good.served_versions == ("1", "2")


def test_one_class_has_no_auc() -> None:
    rows = labelled(3_000, separation=0.5).assign(loan_status=0)
    assert math.isnan(realized_auc(rows))
    assert not RealizedRule(min_rows=10).judge(rows).judged


def test_the_window_is_the_last_weeks_before_the_week_end() -> None:
    as_of = datetime(2026, 3, 2, tzinfo=UTC)
    assert RealizedRule(weeks=4).window(as_of) == (datetime(2026, 2, 2, tzinfo=UTC), as_of)
