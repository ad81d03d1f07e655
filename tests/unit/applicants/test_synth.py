"""The synthetic generator: reproducible, schema-valid, realistic; each drift scenario does what it claims."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scipy.stats import ks_2samp
from sklearn.metrics import brier_score_loss, roc_auc_score

from creditrisk.applicants.schema import (
    CATEGORICAL_FEATURES,
    CATEGORIES,
    FEATURES,
    LABEL,
    NUMERIC_FEATURES,
    invalid_rows,
)
from creditrisk.applicants.synth import PARAMS_PATH, SCENARIOS, default_probability, generate, load_params
from creditrisk.registry.policy import QualityFloor

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 3, 1, tzinfo=UTC)
DRIFT = datetime(2024, 2, 1, tzinfo=UTC)
N = 30_000


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    return generate(N, seed=11)


@pytest.fixture(scope="module")
def windows() -> dict[str, pd.DataFrame]:
    """Every scenario on the same seed and window, drifting from DRIFT on."""
    return {s: generate(N, seed=5, start=START, end=END, scenario=s, drift_start=DRIFT) for s in SCENARIOS}


def _split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    post = df["ts"] >= pd.Timestamp(DRIFT)
    return df[~post], df[post]


def _xgb(train: pd.DataFrame) -> xgb.XGBClassifier:
    return xgb.XGBClassifier(n_estimators=150, max_depth=4, learning_rate=0.1, enable_categorical=True,
                             n_jobs=2).fit(_encode(train), train[LABEL])


def _encode(df: pd.DataFrame) -> pd.DataFrame:
    x = df[FEATURES].copy()
    for c in CATEGORICAL_FEATURES:
        x[c] = pd.Categorical(x[c], categories=CATEGORIES[c])
    return x


def _auc(model: xgb.XGBClassifier, df: pd.DataFrame) -> float:
    return float(roc_auc_score(df[LABEL], model.predict_proba(_encode(df))[:, 1]))


def _shares(s: pd.Series, levels: list[str]) -> pd.Series:
    return s.value_counts(normalize=True).reindex(levels, fill_value=0.0)


def test_same_seed_same_frame_other_seed_differs() -> None:
    a = generate(3000, seed=3, start=START, end=END, scenario="rate_hike", drift_start=DRIFT)
    pd.testing.assert_frame_equal(a, generate(3000, seed=3, start=START, end=END, scenario="rate_hike",
                                              drift_start=DRIFT))
    b = generate(3000, seed=4, start=START, end=END, scenario="rate_hike", drift_start=DRIFT)
    assert (a["person_income"] != b["person_income"]).mean() > 0.9
    assert not a[LABEL].equals(b[LABEL])


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("magnitude", [1.0, 3.0])
def test_every_row_passes_the_schema_with_contract_dtypes(scenario: str, magnitude: float) -> None:
    df = generate(20_000, seed=8, scenario=scenario, magnitude=magnitude)
    assert list(df.columns) == FEATURES + [LABEL]
    broken = invalid_rows(df).sum()
    assert broken.sum() == 0, broken[broken > 0].to_dict()
    assert not df.isna().any().any()
    assert df["person_age"].dtype == np.int64 and df[LABEL].dtype == np.int64
    assert all(df[c].dtype == np.float64 for c in NUMERIC_FEATURES if c != "person_age")
    assert all(df[c].map(type).eq(str).all() for c in CATEGORICAL_FEATURES)
    assert set(df[LABEL].unique()) == {0, 1}


def test_timestamps_sorted_utc_inside_half_open_window() -> None:
    naive_start, naive_end = datetime(2024, 5, 1), datetime(2024, 5, 1, 0, 0, 2)  # 2 s: dense near the end
    df = generate(5000, seed=1, start=naive_start, end=naive_end)
    assert str(df["ts"].dt.tz) == "UTC" and df["ts"].is_monotonic_increasing
    assert df["ts"].min() >= pd.Timestamp(naive_start, tz="UTC")
    assert df["ts"].max() < pd.Timestamp(naive_end, tz="UTC")
    spread = df["ts"].dt.floor("500ms").value_counts(normalize=True)
    assert len(spread) == 4 and spread.min() > 0.2  # uniform, not bunched
    aware = generate(100, seed=1, start=START.astimezone(timezone(timedelta(hours=2))), end=END)
    pd.testing.assert_series_equal(aware["ts"], generate(100, seed=1, start=START, end=END)["ts"])


def test_marginals_follow_the_committed_params(base: pd.DataFrame) -> None:
    p = load_params()
    assert abs((base["cb_person_default_on_file"] == "Y").mean() - p["default_on_file_p"]) < 0.015
    for dof, grades in p["grade_given_dof"].items():
        rows = base["cb_person_default_on_file"] == dof
        got = _shares(base.loc[rows, "loan_grade"], CATEGORIES["loan_grade"])
        assert (got - pd.Series(grades)).abs().max() < 0.02, dof
    assert abs(base[LABEL].mean() - p["real_metrics"]["base_rate"]) < 0.015
    for grade, r in p["rate_given_grade"].items():
        rates = base.loc[base["loan_grade"] == grade, "loan_int_rate"]
        assert rates.between(r["low"], r["high"]).all() and abs(rates.mean() - r["mean"]) < 0.3
    # the historical step structure of credit history by age survives (ages 27-35 have 5-10 years)
    mid_age = base["person_age"].between(27, 35)
    assert base.loc[mid_age, "cb_person_cred_hist_length"].between(5, 10).mean() > 0.95


def test_params_path_is_honoured(tmp_path: Path) -> None:
    p = json.loads(PARAMS_PATH.read_text())
    p["default_on_file_p"] = 0.0
    path = tmp_path / "params.json"
    path.write_text(json.dumps(p))
    df = generate(2000, seed=1, params_path=path)
    assert (df["cb_person_default_on_file"] == "N").all()
    grades = _shares(df["loan_grade"], CATEGORIES["loan_grade"]) - pd.Series(p["grade_given_dof"]["N"])
    assert grades.abs().max() < 0.04  # grades then follow the no-default-on-file table alone


def test_marginals_close_to_the_real_data(base: pd.DataFrame, real_csv: Path) -> None:
    real = pd.read_csv(real_csv)
    assert abs(base[LABEL].mean() - real[LABEL].mean()) < 0.03
    for col in CATEGORICAL_FEATURES:
        gap = (_shares(base[col], CATEGORIES[col]) - _shares(real[col], CATEGORIES[col])).abs().max()
        assert gap < 0.03, (col, gap)
    for col in ["person_age", "person_income", "loan_amnt", "loan_int_rate", "loan_percent_income"]:
        r, s = real[col].dropna().quantile([0.25, 0.5, 0.75]), base[col].quantile([0.25, 0.5, 0.75])
        assert ((s - r).abs() / r).max() < 0.1, (col, r.tolist(), s.tolist())
    # the strongest real dependency: default rate jumps once the loan passes ~30% of income
    for df in (real, base):
        high = df.loc[df["loan_percent_income"] > 0.3, LABEL].mean()
        assert high > 0.6 and df.loc[df["loan_percent_income"] <= 0.2, LABEL].mean() < 0.2
    for grade in ["A", "D"]:
        assert abs(base.loc[base["loan_grade"] == grade, LABEL].mean()
                   - real.loc[real["loan_grade"] == grade, LABEL].mean()) < 0.07


def test_signal_is_learnable_and_clears_the_quality_floor(base: pd.DataFrame) -> None:
    train, test = base.iloc[:20_000], base.iloc[20_000:]
    prob = _xgb(train).predict_proba(_encode(test))[:, 1]
    auc = roc_auc_score(test[LABEL], prob)
    assert QualityFloor.min_auc <= auc <= 0.95, auc
    assert brier_score_loss(test[LABEL], prob) <= QualityFloor.max_brier


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "none"])
def test_rows_before_drift_start_are_untouched(windows: dict[str, pd.DataFrame], scenario: str) -> None:
    pre, post = _split(windows[scenario])
    ref_pre, ref_post = _split(windows["none"])
    pd.testing.assert_frame_equal(pre, ref_pre)
    assert len(post) > 8000 and not post.equals(ref_post)


def test_income_shock_cuts_income_and_raises_the_ratio(windows: dict[str, pd.DataFrame]) -> None:
    pre, post = _split(windows["income_shock"])
    ref_post = _split(windows["none"])[1]
    assert post["person_income"].median() <= 0.7 * ref_post["person_income"].median()
    assert abs(pre["person_income"].median() / post["person_income"].median() - 1 / 0.6) < 0.1
    ratio = (post["loan_amnt"] / post["person_income"]).round(2)
    assert np.allclose(post["loan_percent_income"], ratio, atol=0.011)  # recomputed, not carried over
    assert post["loan_percent_income"].mean() > 1.4 * ref_post["loan_percent_income"].mean()
    assert post[LABEL].mean() > ref_post[LABEL].mean() + 0.1  # the label follows the changed features
    half = generate(N, seed=5, start=START, end=END, scenario="income_shock", drift_start=DRIFT,
                    magnitude=0.5)
    half_median = _split(half)[1]["person_income"].median()
    assert post["person_income"].median() < half_median < ref_post["person_income"].median()


def test_intent_mix_moves_the_intent_shares(windows: dict[str, pd.DataFrame]) -> None:
    levels = CATEGORIES["loan_intent"]
    pre, post = _split(windows["intent_mix"])
    shift = _shares(post["loan_intent"], levels) - _shares(pre["loan_intent"], levels)
    assert shift.abs().max() >= 0.10 and shift[["VENTURE", "MEDICAL", "DEBTCONSOLIDATION"]].min() > 0.03
    assert shift[["EDUCATION", "PERSONAL", "HOMEIMPROVEMENT"]].max() < -0.05
    ks = ks_2samp(post["person_income"], pre["person_income"]).statistic
    assert ks < 0.03  # only the intent moved


def test_rate_hike_raises_rates(windows: dict[str, pd.DataFrame]) -> None:
    pre, post = _split(windows["rate_hike"])
    _, ref_post = _split(windows["none"])
    assert post["loan_int_rate"].mean() - pre["loan_int_rate"].mean() >= 2.0
    assert post["loan_int_rate"].mean() - ref_post["loan_int_rate"].mean() == pytest.approx(4.0, abs=0.05)
    assert post[LABEL].mean() > ref_post[LABEL].mean()


def test_covariate_drift_keeps_the_label_relation_concept_breaks_it(windows: dict[str, pd.DataFrame]) -> None:
    label = load_params()["label"]
    for scenario in ["income_shock", "intent_mix", "rate_hike"]:
        post = _split(windows[scenario])[1]
        assert roc_auc_score(post[LABEL], default_probability(post, label)) > 0.88, scenario
    post = _split(windows["concept"])[1]
    assert roc_auc_score(post[LABEL], default_probability(post, label)) < 0.8


def test_concept_drift_keeps_features_but_defeats_the_old_model(windows: dict[str, pd.DataFrame]) -> None:
    df = windows["concept"]
    pd.testing.assert_frame_equal(df[FEATURES], windows["none"][FEATURES])
    pre, post = _split(df)
    for col in NUMERIC_FEATURES:
        assert ks_2samp(pre[col], post[col]).statistic < 0.03, col
    assert abs(post[LABEL].mean() - pre[LABEL].mean()) < 0.03  # a silent change: the base rate barely moves
    cut = int(len(pre) * 0.7)
    model = _xgb(pre.iloc[:cut])
    before, after = _auc(model, pre.iloc[cut:]), _auc(model, post)
    assert before - after >= 0.05 and after < 0.8, (before, after)
    assert _auc(_xgb(post.iloc[: len(post) // 2]), post.iloc[len(post) // 2:]) > 0.85  # learnable again


def test_unknown_scenario_and_bad_window_are_refused() -> None:
    with pytest.raises(ValueError, match="income_shock.*concept"):
        generate(10, seed=1, scenario="meteor")
    with pytest.raises(ValueError, match="give start and end together"):
        generate(10, seed=1, scenario="rate_hike", drift_start=DRIFT)
    with pytest.raises(ValueError, match="end must be after start"):
        generate(10, seed=1, start=END, end=START)


def test_the_gradual_variant_ramps_each_row_to_full_magnitude() -> None:
    """`ramp`: a row's shift grows linearly from 0 at drift_start to `magnitude` a ramp later."""
    kw = {"seed": 6, "start": START, "end": END, "drift_start": DRIFT}
    flat, ramped = generate(6_000, **kw), generate(6_000, scenario="rate_hike", magnitude=0.5,
                                                   ramp=timedelta(weeks=2), **kw)
    share = ((ramped["ts"] - pd.Timestamp(DRIFT)) / timedelta(weeks=2)).clip(0, 1)
    expected = np.minimum(flat["loan_int_rate"] + 4.0 * 0.5 * share, 40.0)
    np.testing.assert_allclose(ramped["loan_int_rate"], expected, atol=1e-9)
    assert share.between(0.01, 0.99).sum() > 1_000 and (share == 1).sum() > 1_000  # ramping, then full
    concept = generate(6_000, scenario="concept", ramp=timedelta(weeks=2), **kw)
    before = concept["ts"] < pd.Timestamp(DRIFT)
    pd.testing.assert_frame_equal(concept[before], flat[before])
