"""Seeded synthetic loan applicants: the product's embedded data when a user has no real file.

Why synthetic: the public data set cannot ship inside the package, yet every pipeline stage (train,
drift report, promotion, serving) needs rows to run on. The generator reproduces the real data's
marginals and main dependencies from derived numbers only (`params/synth_params.json`, written by
`scripts/derive_synth_params.py`), and labels rows with a logistic model fitted on the real data,
so a model trained on it behaves like one trained on the real file. Named drift scenarios let the
monitoring and retraining paths be exercised on demand with a known ground truth.

Structure: default_on_file -> grade | default_on_file -> rate | grade and home | grade; intent | age
band; the numeric fields (age, income | home, loan-to-income ratio | grade, emp_length | age band,
credit history | age band) come from conditional quantile tables tied together by a Gaussian copula.
The amount is ratio x income (drawing the ratio, not the amount, keeps the real data's thin tail of
high loan_percent_income, the strongest default signal), rounded and capped; loan_percent_income is
then recomputed from the rounded amount, as the schema demands.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from creditrisk.applicants.schema import (
    CATEGORIES,
    FEATURES,
    LABEL,
    NUMERIC_FEATURES,
    NUMERIC_RULES,
    loan_percent_income,
)

PARAMS_PATH = Path(__file__).parent / "params" / "synth_params.json"

SCENARIOS: dict[str, str] = {
    "none": "no drift: every row follows the derived parameters",
    "income_shock": "covariate drift: incomes fall by 40% x magnitude; loan_percent_income follows",
    "intent_mix": "covariate drift: 60% x magnitude of intents redrawn towards VENTURE/MEDICAL/DEBTCONS.",
    "rate_hike": "covariate drift: interest rates rise by 4 points x magnitude",
    "concept": "concept drift: same features; defaults follow history/employment, not loan-to-income",
    "recession": "both at once: the income shock, and defaults follow the concept scenario's relation",
}
INCOME_DROP = 0.40
RATE_HIKE = 4.0
INTENT_SHIFT = 0.60
INTENT_TARGET = {"VENTURE": 0.45, "MEDICAL": 0.30, "DEBTCONSOLIDATION": 0.25}
COPULA_ORDER = ["person_age", "person_income", "loan_percent_income", "person_emp_length",
                "cb_person_cred_hist_length"]


def load_params(path: Path | str | None = None) -> dict[str, Any]:
    """Read the derived parameters; the packaged file unless a path is given (e.g. re-derived ones)."""
    return json.loads(Path(path or PARAMS_PATH).read_text())


def label_inputs(df: pd.DataFrame) -> pd.DataFrame:
    """The label model's engineered inputs. Shared with the derive script so fit and use cannot differ.

    The hinge and the renter interaction carry the real data's strongest non-linearity: defaults jump
    once a loan exceeds ~30% of income, more so for renters.
    """
    lpi = df["loan_percent_income"].to_numpy(float)
    log_inc = np.log(df["person_income"].to_numpy(float))
    home, grade, intent = (df[c].to_numpy(str)
                           for c in ("person_home_ownership", "loan_grade", "loan_intent"))
    cols: dict[str, Any] = {
        "lpi": lpi, "lpi_over_30": np.maximum(lpi - 0.30, 0), "rent_x_lpi": (home == "RENT") * lpi,
        "int_rate": df["loan_int_rate"].to_numpy(float), "log_income": log_inc,
        "low_income": np.maximum(np.log(30_000) - log_inc, 0),
        "log_amount": np.log(df["loan_amnt"].to_numpy(float)),
        "emp_length": np.minimum(df["person_emp_length"].to_numpy(float), 20),
        "cred_hist": np.minimum(df["cb_person_cred_hist_length"].to_numpy(float), 30),
        "default_on_file": df["cb_person_default_on_file"].to_numpy(str) == "Y",
    }
    for field, values, prefix in (("loan_grade", grade, "grade_"), ("person_home_ownership", home, "home_"),
                                  ("loan_intent", intent, "intent_")):
        cols.update({prefix + v: values == v for v in CATEGORIES[field][1:]})  # first category = reference
    return pd.DataFrame(cols, index=df.index).astype(float)


def default_probability(df: pd.DataFrame, label: dict[str, Any]) -> np.ndarray:
    """P(loan_status = 1) under {"intercept": b, "scale": k, "coef": {input: w}}: sigmoid(b + k * x.w).

    `scale` > 1 sharpens the fitted relation (see the derive script) without hiding the fitted weights.
    """
    x = label_inputs(df)[list(label["coef"])].to_numpy()
    logit = label["intercept"] + label.get("scale", 1.0) * (x @ np.array(list(label["coef"].values())))
    return 1 / (1 + np.exp(-logit))


def _concept_probability(df: pd.DataFrame, label: dict[str, Any], alt: dict[str, Any],
                         w: np.ndarray) -> np.ndarray:
    """Default probability under each row's blend (weight `w`) of the old and the concept coefficients."""
    x = label_inputs(df)[list(label["coef"])].to_numpy()
    old, new = (x @ np.array([c[k] for k in label["coef"]]) for c in (label["coef"], alt["coef"]))
    logit = (1 - w) * label["intercept"] + w * alt["intercept"] + alt["scale"] * ((1 - w) * old + w * new)
    return 1 / (1 + np.exp(-logit))


def _draw(u: np.ndarray, rows: np.ndarray, table: dict[str, Any],
          levels: list[str], conds: list[str] | None = None) -> np.ndarray:
    """Inverse-CDF draw of a categorical, optionally conditional (rows = each row's condition index)."""
    rows_of = [table[c] for c in conds] if conds else [table]
    probs = np.array([[t[v] for v in levels] for t in rows_of])
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)[rows]
    return np.array(levels)[np.minimum((u[:, None] > cum).sum(axis=1), len(levels) - 1)]


def _quantile(u: np.ndarray, probs: list[float], tables: dict[str, list[float]], keys: np.ndarray,
              log: bool = False) -> np.ndarray:
    """Interpolate each row's conditional quantile table at u (in log space for money)."""
    out = np.empty(len(u))
    for key, table in tables.items():
        m = keys == key
        vals = np.log(table) if log else np.asarray(table, float)
        out[m] = np.interp(u[m], probs, vals)
    return np.exp(out) if log else out


def _features(p: dict[str, Any], n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Undrifted applicants; every random draw comes from `rng` in a fixed order (reproducibility)."""
    cat = rng.random((n, 4))
    z = rng.multivariate_normal(np.zeros(len(COPULA_ORDER)), p["copula_corr"], size=n, method="cholesky")
    u = dict(zip(COPULA_ORDER, ndtr(z).T, strict=True))
    rate_z = rng.standard_normal(n)

    def q(field: str, table: str, keys: np.ndarray, log: bool = False) -> np.ndarray:
        return _quantile(u[field], p["quantile_probs"], p[table], keys, log)

    grades, homes = CATEGORIES["loan_grade"], CATEGORIES["person_home_ownership"]
    dof = np.where(cat[:, 0] < p["default_on_file_p"], "Y", "N")
    grade = _draw(cat[:, 1], (dof == "Y").astype(int), p["grade_given_dof"], grades, ["N", "Y"])
    home = _draw(cat[:, 2], np.searchsorted(grades, grade), p["home_given_grade"], homes, grades)
    r = pd.DataFrame(p["rate_given_grade"]).T.loc[grade].to_numpy().T  # rows: mean, sd, low, high
    rate = np.clip(r[0] + r[1] * rate_z, r[2], r[3])
    age = np.rint(np.interp(u["person_age"], p["quantile_probs"], p["age_quantiles"])).astype(np.int64)
    band = np.searchsorted(p["age_band_upper"], age).astype(str)  # band index as the table key
    intent = _draw(cat[:, 3], band.astype(int), p["intent_given_age_band"], CATEGORIES["loan_intent"],
                   sorted(p["intent_given_age_band"]))
    income = np.rint(q("person_income", "income_quantiles_given_home", home, log=True) / 100) * 100
    years = age - p["emp_age_offset"]  # nobody works or borrows before ~15
    emp = np.clip(np.rint(q("person_emp_length", "emp_quantiles_given_age_band", band)), 0, years)
    hist = np.clip(np.rint(q("cb_person_cred_hist_length", "hist_quantiles_given_age_band", band)), 0, years)
    return _fit_amount(pd.DataFrame({
        "person_age": age, "person_income": income, "person_home_ownership": home, "person_emp_length": emp,
        "loan_intent": intent, "loan_grade": grade,
        "loan_amnt": income * q("loan_percent_income", "lpi_quantiles_given_grade", grade, log=True),
        "loan_int_rate": np.round(rate, 2), "cb_person_default_on_file": dof,
        "cb_person_cred_hist_length": hist,
    }), p)


def _fit_amount(df: pd.DataFrame, p: dict[str, Any]) -> pd.DataFrame:
    """Cap the amount at `lpi_cap` x income (lenders refuse more), then derive loan_percent_income."""
    lo, hi = p["amount_range"]
    amount = np.minimum(df["loan_amnt"], np.floor(p["lpi_cap"] * df["person_income"] / 25) * 25)
    df["loan_amnt"] = np.clip(np.rint(amount / 25) * 25, lo, hi).astype(float)
    df["loan_percent_income"] = loan_percent_income(df["loan_amnt"], df["person_income"])  # as served
    return df


def _utc(t: datetime) -> pd.Timestamp:
    """Naive datetimes are taken as UTC, aware ones converted, so windows compare unambiguously."""
    ts = pd.Timestamp(t)
    return ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)


def generate(n: int, *, seed: int, start: datetime | None = None, end: datetime | None = None,
             scenario: str = "none", drift_start: datetime | None = None, magnitude: float = 1.0,
             ramp: timedelta | None = None, params_path: Path | None = None) -> pd.DataFrame:
    """`n` labelled applicants (FEATURES + loan_status, + sorted UTC `ts` over [start, end) if given).

    Base rows, timestamps, drift draws and labels use separate seeded streams, so for one seed the
    rows before `drift_start` are identical across scenarios and only the drifted part differs.
    Drift hits rows with ts >= drift_start, or every row when drift_start is None. With `ramp` (the
    gradual variant) a row's magnitude grows linearly from 0 at drift_start to `magnitude` at
    drift_start + ramp.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    if (start is None) != (end is None) or (drift_start is not None and start is None):
        raise ValueError("give start and end together (and both when drift_start is set)")
    p = load_params(params_path)
    base_rng, ts_rng, drift_rng, label_rng = map(np.random.default_rng, np.random.SeedSequence(seed).spawn(4))
    df = _features(p, n, base_rng)
    s = np.full(n, max(float(magnitude), 0.0) if scenario != "none" else 0.0)  # each row's magnitude
    if start is not None and end is not None:
        t0, t1 = _utc(start), _utc(end)
        if t1 <= t0:
            raise ValueError("end must be after start")
        df["ts"] = t0 + pd.to_timedelta(np.sort(ts_rng.integers(0, (t1 - t0).value, size=n)), unit="ns")
        if drift_start is not None:
            since = (df["ts"] - _utc(drift_start)).to_numpy()
            share = np.clip(since / pd.Timedelta(ramp), 0, 1) if ramp else 1.0
            s = np.where(since < pd.Timedelta(0), 0.0, s * share)
    drifted = s > 0
    label = p["label"]
    hit = s[drifted]
    if scenario in ("income_shock", "recession"):
        df.loc[drifted, "person_income"] = np.maximum(
            np.rint(df.loc[drifted, "person_income"] * np.maximum(1 - INCOME_DROP * hit, 0.1) / 100) * 100,
            NUMERIC_RULES["person_income"].low)
        df = _fit_amount(df, p)
    elif scenario == "rate_hike":
        df.loc[drifted, "loan_int_rate"] = np.minimum(df.loc[drifted, "loan_int_rate"] + RATE_HIKE * hit,
                                                      NUMERIC_RULES["loan_int_rate"].high)
    elif scenario == "intent_mix":
        redraw = drifted & (drift_rng.random(n) < np.minimum(INTENT_SHIFT * s, 1.0))
        k = int(redraw.sum())
        df.loc[redraw, "loan_intent"] = _draw(drift_rng.random(k), np.zeros(k, int), INTENT_TARGET,
                                              list(INTENT_TARGET))
    prob = default_probability(df, label)
    if scenario in ("concept", "recession"):
        mixed = _concept_probability(df, label, p["label_concept"], np.minimum(s, 1.0))
        prob = np.where(drifted, mixed, prob)
    df[LABEL] = (label_rng.random(n) < prob).astype(np.int64)
    floats = [c for c in NUMERIC_FEATURES if c != "person_age"]
    df[floats] = df[floats].astype(float)
    return df[FEATURES + [LABEL] + (["ts"] if "ts" in df else [])].reset_index(drop=True)
