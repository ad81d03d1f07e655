"""Training, MLflow logging, the registry round trip, promotion/rollback and reason codes.

Real MLflow (temp SQLite + file artifacts), real xgboost, the real CSV when present.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from creditrisk.applicants.schema import FEATURES
from creditrisk.model.credit_model import split_holdout
from creditrisk.model.explain import MERGED_INTO, reason_codes
from creditrisk.registry.client import RegistryError


def test_quality_floor_on_real_data_holdout(real_csv, champion) -> None:
    """The issue's floor on a 30% stratified holdout of the real data, at the served threshold."""
    m = champion.metrics
    assert m["n_rows"] == pytest.approx(0.3 * 32_409, abs=1)
    assert m["roc_auc"] >= 0.950 and m["accuracy"] >= 0.935
    assert m["recall_default"] >= 0.74 and m["brier"] <= 0.055


def test_run_logs_the_original_params_metrics_and_artifacts(registry, champion, base_data) -> None:
    run = registry.client.get_run(champion.run_id)
    for prefix in ("rawdataset", "preprocesseddataset", "processeddataset"):
        assert f"{prefix}_shape" in run.data.params and f"{prefix}_columns" in run.data.params
    assert run.data.params["processeddataset_columns"].endswith("'loan_status']")
    assert run.data.params["holdout_rows"] == str(int(champion.metrics["n_rows"]))
    assert run.data.params["rawdataset_shape"] == "{}x{}".format(*base_data[0].shape)
    logged = {k: v for k, v in champion.metrics.items() if not math.isnan(v)}
    # the numbers, not just their range
    assert {k: run.data.metrics[k] for k in logged} == pytest.approx(logged)
    names = {a.path for a in registry.client.list_artifacts(champion.run_id)}
    names |= {a.path for d in ("plots", "data") for a in registry.client.list_artifacts(champion.run_id, d)}
    assert {"classification_report.txt", "plots/roc_curve.png", "plots/calibration.png",
            "data/raw.parquet", "data/preprocessed.parquet", "data/processed.parquet"} <= names
    report = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/classification_report.txt")
    assert "default (1)" in report


def test_registry_round_trip_and_serving_path_equal_training_pipeline(registry, champion, base_data) -> None:
    _, clean = base_data
    _, holdout = split_holdout(clean)
    rows = holdout[FEATURES].dropna().head(300)
    loaded = registry.load("champion")
    assert loaded.version == champion.version == str(registry.version_for("champion").version)
    trained = champion.model.score_frame(rows)
    served = loaded.model.score_rows(rows.to_dict("records"))  # the serving hot path: dicts -> array
    np.testing.assert_allclose(served, trained, rtol=0, atol=1e-7)
    uri = registry.client.get_model_version_download_uri(registry.model_name, champion.version)
    pyfunc = mlflow.pyfunc.load_model(uri).predict(rows.reset_index(drop=True))
    np.testing.assert_allclose(pyfunc["probability_of_default"].to_numpy(), trained, atol=1e-7)
    expected = np.where(trained >= loaded.model.threshold, 1, 0)  # the rule, restated independently
    np.testing.assert_array_equal(pyfunc["prediction"], expected)
    np.testing.assert_array_equal(pyfunc["decision"], np.where(expected == 1, "denied", "pre-approved"))
    assert 0 < expected.sum() < len(expected)  # both decisions were exercised


def test_an_unknown_alias_is_an_error_naming_it(registry, champion) -> None:
    with pytest.raises(RegistryError, match="no version with alias 'no-such-alias'"):
        registry.load("no-such-alias")


def test_reason_codes_explain_denials_with_exact_contributions(champion, base_data) -> None:
    _, clean = base_data
    model = champion.model
    rows = clean[FEATURES].dropna().head(500)
    X = model.spec.encode_frame(rows)
    proba = model.predict_proba(X)
    contrib = model.contributions(X)
    margin = np.log(proba / (1 - proba))
    bias = margin - contrib.sum(axis=1)  # contributions + bias reproduce the model's log-odds
    assert np.ptp(bias) < 1e-2  # float32 sums over 800 trees
    denied = np.flatnonzero(proba >= model.threshold)
    reasons = reason_codes(model, X[denied])
    assert len(reasons) == len(denied) > 0
    # Expected: the four largest positive contributions per applicant field (loan_to_income counted as
    # its source field loan_percent_income), each plus its share of the pricing effect; grade and rate
    # never; age never at 62+; "no default on file" never (it has no words against the applicant).
    names = [MERGED_INTO.get(c, c) for c in model.spec.columns]
    own = pd.DataFrame(contrib[denied], columns=names).T.groupby(level=0, sort=False).sum().T
    effect = (own["loan_grade"] + own["loan_int_rate"]).to_numpy()
    credited = model.pricing.attribute(model.spec, X[denied], list(own.columns), effect)
    total = (own.reset_index(drop=True) + credited).drop(columns=["loan_grade", "loan_int_rate"])
    applicants = rows.iloc[denied].reset_index(drop=True)
    for rs, (i, row) in zip(reasons, total.iterrows(), strict=True):
        if applicants.loc[i, "cb_person_default_on_file"] == "N":
            row = row.drop("cb_person_default_on_file")
        top = row[row > 0].nlargest(4)
        assert [r["code"] for r in rs] == list(top.index)
        # rounded to 4 places; float32 sums
        assert [r["contribution"] for r in rs] == pytest.approx(top.tolist(), abs=2e-4)
        assert "loan_to_income" not in {r["code"] for r in rs}




def test_training_data_is_recorded_by_reference_and_copied_only_when_asked(registry, base_data) -> None:
    """Production (`reference`): the run records source, window, cut-off, rows and a hash of all of
    them, and copies no applicant row, not even as the model's input example."""
    from creditrisk.model.credit_model import TrainConfig
    from creditrisk.registry.validation import canary_applicants
    from creditrisk.training.lineage import REFERENCE, DataReference, content_sha256
    from creditrisk.training.run import train_and_register

    raw, clean = base_data
    rows = clean.head(3_000)
    ref = DataReference("base.csv + request log", window="..2026-03-01",
                        outcome_cutoff="2026-03-02T00:00:00+00:00", policy=REFERENCE)
    result = train_and_register(registry, raw, rows, run_name="by-reference", source=ref,
                                config=TrainConfig(num_rounds=5, max_depth=2))
    run = registry.client.get_run(result.run_id)
    assert run.data.params["training_data.sha256"] == content_sha256(rows)  # every row, not the first 10,000
    assert (run.data.params["training_data.rows"], run.data.params["training_data.outcome_cutoff"]) == \
        ("3000", "2026-03-02T00:00:00+00:00")
    (dataset,) = [d.dataset for d in run.inputs.dataset_inputs]
    assert json.loads(dataset.profile)["num_rows"] == 3000
    assert json.loads(dataset.source)["tags"]["window"] == "..2026-03-01"
    assert [a.path for a in registry.client.list_artifacts(result.run_id, "data")] == []  # no copies
    uri = registry.client.get_model_version_download_uri(registry.model_name, result.version)
    model_dir = mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=registry.tracking_uri)
    example = pd.read_json(Path(model_dir) / "input_example.json", orient="split")
    assert example.to_dict("records") == pd.DataFrame(canary_applicants()[:5])[FEATURES].to_dict("records")
