"""The benchmark's scipy twin gives Evidently's scores and decisions on the same windows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creditrisk.applicants import schema, synth
from creditrisk.monitoring.drift import compute_drift
from creditrisk.monitoring.drift_twin import twin_drift


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return synth.generate(3_000, seed=11)


def with_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """Store dtypes, missing values and an empty column, as production windows may have."""
    out = df.astype({"person_age": "Int64", **{c: "string" for c in schema.CATEGORICAL_FEATURES}})
    out.loc[np.random.default_rng(0).random(len(out)) < 0.1, ["person_emp_length", "loan_intent"]] = pd.NA
    return out.assign(loan_int_rate=np.nan)


@pytest.mark.parametrize("scenario", ["none", "income_shock", "intent_mix", "rate_hike", "gaps"])
def test_twin_equals_evidently(reference: pd.DataFrame, scenario: str) -> None:
    cur = synth.generate(1_500, seed=12, scenario="none" if scenario == "gaps" else scenario)
    cur = with_gaps(cur) if scenario == "gaps" else cur
    shares = {c: 0.1 for c in schema.FEATURES}
    ours, theirs = (f(reference, cur, importance=shares) for f in (twin_drift, compute_drift))
    assert [(c.column, c.test, c.drifted) for c in ours.columns] == \
        [(c.column, c.test, c.drifted) for c in theirs.columns]
    np.testing.assert_allclose([c.score for c in ours.columns], [c.score for c in theirs.columns],
                               rtol=1e-9, atol=1e-12)
    for name in ("dataset_drift", "share_drift", "strong_columns", "n_drifted", "n_columns", "status"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.drift_share == pytest.approx(theirs.drift_share, abs=1e-12)


def test_twin_refuses_a_reference_evidently_would_test_with_p_values(reference: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="more than 1000 rows"):
        twin_drift(reference.head(900), synth.generate(500, seed=1))
