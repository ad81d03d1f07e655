"""Concept drift: the champion's realized AUC on recent labelled rows against its own first weeks."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from creditrisk.applicants.labels import LabelDelay, report_times
from creditrisk.applicants.schema import LABEL
from creditrisk.applicants.synth import generate
from creditrisk.model.credit_model import CreditModel, TrainConfig, train
from creditrisk.monitoring.concept import ConceptRule, auc_and_variance, concept_check, split_service

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
PER_WEEK = 1_500


@pytest.fixture(scope="module")
def model() -> CreditModel:
    return train(generate(6_000, seed=31), TrainConfig(num_rounds=120, eta=0.15, nthread=1))


def served(model: CreditModel, weeks: int, scenario: str, drift_week: int, version: str = "1",
           seed: int = 0) -> pd.DataFrame:
    """Weeks of traffic as the store holds it: served scores, and outcomes for the approved only."""
    apps = generate(PER_WEEK * weeks, seed=seed, start=START, end=START + timedelta(weeks=weeks),
                    scenario=scenario, drift_start=START + timedelta(weeks=drift_week - 1))
    p = model.score_frame(apps)
    reported = report_times(apps["ts"], p < model.threshold, LabelDelay("uniform", 2, 12),
                            np.random.default_rng(seed))
    return pd.DataFrame({"ts": apps["ts"], "model_version": version, "probability": p,
                         LABEL: apps[LABEL].where(reported.notna()), "reported_at": reported})


def as_of(week: int) -> datetime:
    return START + timedelta(weeks=week)


def test_a_concept_change_flags_concept_drift_against_the_champions_own_baseline(model: CreditModel) -> None:
    """Issue 11: same applicants, another default relation: no feature moves, the realized AUC does."""
    rows = served(model, 6, "concept", drift_week=5)
    result = concept_check(rows, "1", as_of(6))
    assert result.status == "ok" and result.concept_drift is True
    assert result.baseline_window == (START, START + timedelta(weeks=2))  # its first two weeks in service
    assert result.recent_auc < result.baseline_auc - 0.05 and result.gap_upper < 0
    assert result.baseline_rows >= ConceptRule().min_rows and result.recent_rows >= ConceptRule().min_rows
    assert "below its baseline" in result.reason


def test_no_change_no_concept_drift(model: CreditModel) -> None:
    result = concept_check(served(model, 6, "none", drift_week=5), "1", as_of(6))
    assert result.status == "ok" and result.concept_drift is False and result.gap_upper > 0


def test_only_rows_labelled_by_the_week_end_and_served_by_the_champion_count(model: CreditModel) -> None:
    rows = served(model, 6, "concept", drift_week=5)
    other = rows.assign(model_version="2")  # another version's rows say nothing about version 1
    late = rows.assign(reported_at=rows["reported_at"] + timedelta(weeks=10))  # not known yet
    for frame in (other, late):
        result = concept_check(frame, "1", as_of(6))
        assert result.status == "no baseline" and result.concept_drift is False


def test_too_few_labels_on_either_side_is_no_verdict(model: CreditModel) -> None:
    rows = served(model, 6, "concept", drift_week=5)
    result = concept_check(rows, "1", as_of(6), ConceptRule(min_rows=10_000))
    assert result.status == "no baseline" and result.concept_drift is False and "10000" in result.reason
    sides = split_service(rows, "1", as_of(6))
    assert sides is not None and len(sides.recent) < len(sides.baseline)
    between = ConceptRule(min_rows=len(sides.recent) + 1)  # the baseline has enough, the recent weeks not
    result = concept_check(rows, "1", as_of(6), between)
    assert result.status == "insufficient labels" and result.concept_drift is False
    assert str(between.min_rows) in result.reason


def test_delong_variance_matches_the_bootstrap() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(2_000) < 0.2
    p = np.clip(0.2 + 0.3 * y + rng.normal(0, 0.25, 2_000), 0, 1)
    auc, var = auc_and_variance(y.astype(int), p)
    idx = rng.integers(0, len(y), size=(400, len(y)))
    from sklearn.metrics import roc_auc_score
    boot = [roc_auc_score(y[i], p[i]) for i in idx]
    assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert np.sqrt(var) == pytest.approx(np.std(boot), rel=0.15)
