"""Drift episodes: one change, one retrain, once its labels exist; the reference after the change."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from creditrisk.applicants.schema import LABEL
from creditrisk.monitoring.episodes import (
    MIN_CHANGE_TRAIN_ROWS,
    episode,
    readiness,
    reference_range,
    retrain_decision,
)
from creditrisk.monitoring.windows import week_windows
from creditrisk.registry.policy import EvidenceRule

W = week_windows("2026-03-01")  # Mon 2026-02-23 .. Mon 2026-03-02
MONDAY = W.current[0]
LAST_WEEK = MONDAY - timedelta(weeks=1)


def report(**kw: object) -> dict:
    return {"champion_version": "1", "flagged": True, "change_start": LAST_WEEK.isoformat(),
            "last_flagged": MONDAY.isoformat(), **kw}


def test_a_new_episode_starts_at_its_evidence() -> None:
    assert episode(True, MONDAY, W.as_of, "1", None, None) == (MONDAY, W.as_of)
    assert episode(False, MONDAY, W.as_of, "1", None, None) == (None, None)


def test_flagged_weeks_close_together_are_one_episode_under_one_champion() -> None:
    assert episode(True, MONDAY, W.as_of, "1", None, report()) == (LAST_WEEK, W.as_of)
    assert episode(False, MONDAY, W.as_of, "1", None, report()) == (LAST_WEEK, MONDAY)  # a quiet week
    stale = report(last_flagged=(W.as_of - timedelta(weeks=5)).isoformat())
    assert episode(True, MONDAY, W.as_of, "1", None, stale) == (MONDAY, W.as_of)  # beyond the gap: new
    assert episode(False, MONDAY, W.as_of, "1", None, stale) == (None, None)


def test_a_new_champion_continues_only_the_change_it_was_retrained_for() -> None:
    assert episode(True, MONDAY, W.as_of, "2", None, report()) == (MONDAY, W.as_of)
    assert episode(True, MONDAY, W.as_of, "2", LAST_WEEK, report()) == (LAST_WEEK, W.as_of)


def test_the_reference_starts_no_earlier_than_the_champions_change() -> None:
    assert reference_range(W, None) == W.reference
    assert reference_range(W, LAST_WEEK) == (LAST_WEEK, MONDAY)
    assert reference_range(W, W.reference[0] - timedelta(weeks=30)) == W.reference


def test_readiness_counts_labels_of_the_changed_world_on_each_side_of_the_evaluation_window() -> None:
    ts = pd.Series(pd.date_range(LAST_WEEK - timedelta(days=3), W.as_of, freq="1h", inclusive="left"))
    labelled = pd.DataFrame({"ts": ts, LABEL: 0, "reported_at": ts + timedelta(days=1)})
    labelled.loc[np.arange(len(ts)) % 5 == 0, LABEL] = np.nan  # never reported
    r = readiness(labelled, LAST_WEEK, W)
    known = labelled[LABEL].notna() & (labelled["reported_at"] < W.as_of) & (labelled["ts"] >= LAST_WEEK)
    # hourly requests from the change (Mon 16 Feb) to the evaluation window (Fri 20 Feb): 96, 4 in 5 labelled
    assert r.train_rows == int((known & (ts < W.evaluation[0])).sum()) == 77
    assert r.evaluation_rows == int((known & (ts >= W.evaluation[0])).sum())
    assert (r.min_train_rows, r.min_evaluation_rows) == (MIN_CHANGE_TRAIN_ROWS, EvidenceRule.min_rows)
    assert not r.ready and readiness(labelled, LAST_WEEK, W, min_train_rows=30, min_evaluation_rows=30).ready


@pytest.mark.parametrize(("meta", "already", "go", "says"), [
    ({"n_drifted": 0, "n_columns": 11, "concept/reason": "realized AUC 0.79 ..."}, None, False,
     "no drift in week 2026-W09: 0/11 columns drifted; no concept drift: realized AUC 0.79"),
    ({"status": "insufficient data", "n_drifted": 0, "n_columns": 0}, None, False,
     "insufficient data in week 2026-W09"),
    ({"dataset_drift": True, "n_drifted": 1, "n_columns": 11, "strong_columns": "loan_int_rate",
      "retrain_ready": False, "change_train_rows": 12, "evaluation_rows": 340}, None, False,
     "data drift (1/11 columns; loan_int_rate on its own) in week 2026-W09: retraining waits for labels of "
     "the changed world since 2026-02-16T00:00:00+00:00: 12 labelled rows to train on (need 1000), 340 to "
     "judge on (need 200)"),
    ({"concept_drift": True, "concept/reason": "realized AUC 0.61 ...", "retrain_ready": True}, "run-7",
     False,
     "concept drift (realized AUC 0.61 ...) in week 2026-W09 continues the change since "
     "2026-02-16T00:00:00+00:00, already retrained for in run run-7"),
    ({"dataset_drift": True, "concept_drift": True, "n_drifted": 3, "n_columns": 11, "retrain_ready": True,
      "concept/reason": "r"}, None, True, "data drift (3/11 columns) and concept drift (r) in week 2026-W09"),
    # The retrain is owed to the episode: it starts once the labels are there, flagged week or not.
    ({"n_drifted": 0, "n_columns": 11, "retrain_ready": True, "last_flagged": "2026-02-23"}, None, True,
     "the change since 2026-02-16T00:00:00+00:00 (last flagged 2026-02-23) now has labels to learn from; "
     "no drift in week 2026-W09"),
    ({"n_drifted": 0, "n_columns": 11, "retrain_ready": True}, "run-7", False, "no drift in week 2026-W09"),
])
def test_the_sensors_decision_and_its_words(meta: dict, already: str | None, go: bool, says: str) -> None:
    decided, why = retrain_decision({"week": "2026-W09", "change_start": "2026-02-16T00:00:00+00:00", **meta},
                                    already)
    assert decided is go and why.startswith(says)
