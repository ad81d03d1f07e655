"""Drift verdicts on synthetic windows with a known ground truth (creditrisk.applicants.synth scenarios).

Windows are small (3,000 reference and 1,500 current rows) but above Evidently's 1,000-row switch,
so the distance tests the production windows get are the ones exercised here.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creditrisk.applicants import schema, synth
from creditrisk.model.credit_model import CreditModel, TrainConfig, train
from creditrisk.monitoring.drift import (
    NO_VALUES,
    STATUS_INSUFFICIENT,
    STATUS_OK,
    DriftResult,
    compute_drift,
    sample_rows,
)
from creditrisk.monitoring.drift_rule import DriftRule, importance_shares

REF_ROWS, CUR_ROWS = 3_000, 1_500


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return synth.generate(REF_ROWS, seed=11)


def current(scenario: str = "none", seed: int = 12) -> pd.DataFrame:
    return synth.generate(CUR_ROWS, seed=seed, scenario=scenario)


@pytest.fixture(scope="module")
def income_shock(reference: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> DriftResult:
    html = tmp_path_factory.mktemp("drift") / "reports" / "drift.html"
    return compute_drift(reference, current("income_shock"), html_path=html)


def test_same_distribution_does_not_drift(reference: pd.DataFrame) -> None:
    result = compute_drift(reference, current("none"))
    assert result.status == STATUS_OK and not result.dataset_drift
    assert result.drifted_columns() == [] and result.n_drifted == 0 and result.drift_share == 0.0
    assert not result.sampled and result.html_path is None


def test_income_shock_drifts_income_columns_and_follows_the_share_rule(income_shock: DriftResult) -> None:
    assert set(income_shock.drifted_columns()) == {"person_income", "loan_percent_income"}
    assert income_shock.n_drifted == 2 and income_shock.drift_share == pytest.approx(2 / 11)
    assert income_shock.dataset_drift is True
    for col in income_shock.columns:  # Evidently's verdict agrees with its own score and threshold
        assert col.test == "Wasserstein distance (normed)" if col.column in schema.NUMERIC_FEATURES \
            else col.test == "Jensen-Shannon distance"
        assert col.drifted == (col.score >= col.threshold)


@pytest.mark.parametrize(("drift_share", "expected"), [(0.5, False), (2 / 11, True)])
def test_dataset_drift_is_share_at_or_above_drift_share(reference: pd.DataFrame, drift_share: float,
                                                        expected: bool) -> None:
    """Two of eleven columns drift: Evidently's rule is share >= drift_share, so 2/11 itself counts."""
    result = compute_drift(reference, current("income_shock"), drift_share=drift_share)
    assert result.n_drifted == 2 and result.dataset_drift is expected


def test_intent_mix_alone_is_below_evidentlys_share_rule(reference: pd.DataFrame) -> None:
    """One drifted column of eleven is below the share rule: without the model's importance, no verdict."""
    result = compute_drift(reference, current("intent_mix"))
    assert result.drifted_columns() == ["loan_intent"] and result.dataset_drift is False
    assert result.share_drift is False and result.strong_columns == []


@pytest.fixture(scope="module")
def model() -> CreditModel:
    """A small champion stand-in (120 trees): its own contributions say which columns matter."""
    return train(synth.generate(6_000, seed=21), TrainConfig(num_rounds=120, eta=0.15, nthread=1))


@pytest.mark.parametrize(("scenario", "column"),
                         [("rate_hike", "loan_int_rate"), ("intent_mix", "loan_intent")])
def test_one_strongly_drifted_column_that_matters_to_the_model_is_dataset_drift(
        reference: pd.DataFrame, model: CreditModel, scenario: str, column: str) -> None:
    """Issue 11: +4 points on every rate, or the intent mix, moved one column and never retrained."""
    cur = current(scenario)
    result = compute_drift(reference, cur, importance=lambda: importance_shares(model, cur))
    assert result.drifted_columns() == [column] and result.share_drift is False
    assert result.strong_columns == [column] and result.dataset_drift is True
    assert result.importance[column] >= DriftRule.min_importance_share


def test_a_strong_drift_in_a_column_the_model_ignores_is_not_drift_on_its_own(
        reference: pd.DataFrame, model: CreditModel) -> None:
    cur = current("none").assign(cb_person_default_on_file="Y")  # every applicant: a past default on file
    asked: list[bool] = []

    def importance() -> dict[str, float]:
        asked.append(True)
        return importance_shares(model, cur)
    result = compute_drift(reference, cur, importance=importance)
    assert result.drifted_columns() == ["cb_person_default_on_file"] and asked == [True]
    assert result.importance["cb_person_default_on_file"] < DriftRule.min_importance_share
    assert result.strong_columns == [] and result.dataset_drift is False
    quiet = compute_drift(reference, current("none"), importance=importance)
    assert asked == [True] and quiet.importance == {}  # no strong column: the model is not asked


def test_the_strong_threshold_rises_for_small_weeks() -> None:
    """Distance noise grows as 1/sqrt(rows): a week smaller than the calibration volume needs more."""
    rule = DriftRule()
    big, small = (rule.strong_threshold("Jensen-Shannon distance", n) for n in (3_000, 375))
    assert big == rule.strong_scores["Jensen-Shannon distance"]
    assert small == pytest.approx(big * math.sqrt(DriftRule.calibration_rows / 375))


def test_below_min_rows_is_insufficient_data_never_drift(reference: pd.DataFrame) -> None:
    shocked = current("income_shock")
    for ref, cur in ((reference, shocked.iloc[:DriftRule.min_rows - 1]),
                     (reference.iloc[:50], shocked)):
        result = compute_drift(ref, cur)
        assert result.status == STATUS_INSUFFICIENT and not result.dataset_drift
        assert result.columns == [] and result.html_path is None
        assert (result.reference_rows, result.current_rows) == (len(ref), len(cur))
    at_the_gate = compute_drift(reference, shocked.iloc[:DriftRule.min_rows])
    assert at_the_gate.status == STATUS_OK  # the gate is "fewer than", not "at most"


def test_html_report_is_written(income_shock: DriftResult) -> None:
    assert income_shock.html_path is not None
    html = Path(income_shock.html_path)
    assert html.stat().st_size > 100_000 and b"<html" in html.read_bytes()[:2_000].lower()


def test_per_column_table_has_every_feature_with_plain_floats(income_shock: DriftResult) -> None:
    assert [c.column for c in income_shock.columns] == schema.FEATURES
    plain = income_shock.to_dict()
    json.dumps(plain, allow_nan=False)  # Dagster/MLflow metadata: plain types, no NaN
    for col in plain["columns"]:
        assert type(col["score"]) is float and type(col["threshold"]) is float and math.isfinite(col["score"])
        assert type(col["drifted"]) is bool
    assert type(plain["drift_share"]) is float and type(plain["n_drifted"]) is int


def test_sampling_is_seeded_and_independent_of_row_order(reference: pd.DataFrame) -> None:
    cur = current("income_shock")
    first = compute_drift(reference, cur, max_rows=1_200, seed=3)
    again = compute_drift(reference, cur, max_rows=1_200, seed=3)
    shuffled = compute_drift(reference.sample(frac=1, random_state=1), cur.sample(frac=1, random_state=2),
                             max_rows=1_200, seed=3)
    assert first.sampled and first.reference_rows == REF_ROWS and first.current_rows == CUR_ROWS
    assert first == again == shuffled  # bit-identical scores, not merely close ones
    assert {"person_income", "loan_percent_income"} <= set(first.drifted_columns())
    picked = {seed: set(sample_rows(reference, 1_200, seed).index) for seed in (3, 4)}
    assert len(picked[3]) == 1_200 and picked[3] != picked[4]  # the seed chooses the sample


def test_missing_values_and_store_dtypes(reference: pd.DataFrame) -> None:
    """Rows as the store returns them (Int64, string, NA) with gaps; a column with no value is skipped."""
    cur = current("none").astype({"person_age": "Int64",
                                  **{c: "string" for c in schema.CATEGORICAL_FEATURES}})
    rng = np.random.default_rng(0)
    cur.loc[rng.random(len(cur)) < 0.1, ["person_age", "person_income", "loan_intent"]] = pd.NA
    cur["loan_int_rate"] = np.nan
    result = compute_drift(reference, cur)
    assert result.status == STATUS_OK and not result.dataset_drift
    assert result.n_columns == 10 and len(result.columns) == 11
    skipped = result.columns[-1]
    assert (skipped.column, skipped.test, skipped.drifted) == ("loan_int_rate", NO_VALUES, False)
    assert math.isnan(result.to_dict()["columns"][-1]["score"])  # still a float for metadata plots
    assert all(math.isfinite(c.score) for c in result.columns[:-1])
