"""The realized-performance rule: judged only on enough labels, alerting below its AUC floor."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

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


def reported(n: int, as_of: datetime, newest_age_days: float) -> pd.DataFrame:
    """`n` well-ranked labelled rows whose newest outcome was reported `newest_age_days` before `as_of`."""
    rows = labelled(n, separation=0.6)
    newest = as_of - timedelta(days=newest_age_days)
    return rows.assign(reported_at=[newest - timedelta(hours=i % 300) for i in range(n)])


def test_a_stopped_outcome_feed_alerts_once_outcomes_are_due() -> None:
    as_of = datetime(2026, 3, 2, tzinfo=UTC)
    rule = RealizedRule(min_rows=2_500, max_label_age_days=7)
    stale = rule.judge(reported(900, as_of, newest_age_days=9.5), as_of=as_of, due=600)
    assert (stale.judged, stale.alert, stale.label_age_days) == (False, True, 9.5)
    assert stale.reason == \
        "outcome feed stale: newest outcome reported 9.5 days before the week's end (bound 7)"
    # The same labels, judged on enough rows: the AUC is fine, the feed still is not.
    assert rule.judge(reported(3_000, as_of, 9.5), as_of=as_of, due=600).alert
    # Nothing due yet (a new service, or outcomes that take longer than the window): no alert.
    assert not rule.judge(reported(900, as_of, 9.5), as_of=as_of, due=0).alert
    none = labelled(0, 0.5).assign(reported_at=pd.NaT)
    assert not rule.judge(none, as_of=as_of, due=0).alert
    assert rule.judge(none, as_of=as_of, due=600).reason == \
        "outcome feed stale: no outcome reported for the window's requests, though 600 are due (bound 7)"
    assert not rule.judge(reported(900, as_of, 1.0), as_of=as_of, due=600).alert  # fresh, too few: wait


def test_too_few_labels_alert_when_more_outcomes_are_due_than_the_minimum() -> None:
    as_of = datetime(2026, 3, 2, tzinfo=UTC)
    rule = RealizedRule(min_rows=2_500)
    short = rule.judge(reported(1_200, as_of, 1.0), as_of=as_of, due=3_100)
    assert (short.judged, short.alert) == (False, True)
    assert short.reason == ("outcomes missing: 1200 labelled rows < 2500, though 3100 approved requests of "
                            "the window are past their outcome's due date (14 days)")
    assert not rule.judge(reported(1_200, as_of, 1.0), as_of=as_of, due=2_400).alert



def test_outcomes_due_after_the_window_are_refused_since_the_feed_alert_could_never_arm() -> None:
    """Before: `label_due_days=120` over a 4-week window gave an empty due window, so `due` was always 0
    and a feed that stopped for good passed every week, "insufficient labels to judge"."""
    with pytest.raises(ValueError, match=r"label_due_days 120 >= the 28-day window: no request of it is "
                                         r"ever due, so a stopped outcome feed would never alert"):
        RealizedRule(label_due_days=120, weeks=4)
    rule = RealizedRule(label_due_days=120, weeks=20)  # a book reporting after months: a longer window
    start, end = rule.due_window(datetime(2026, 9, 7, tzinfo=UTC))
    assert (end - start).days == 20 * 7 - 120
