"""Regulation B's age rule on the served model, restated here independently of `creditrisk.model.fairness`.

12 CFR 1002.6(b)(2) and 1002.2(v): an applicant aged 62 or older may never be scored worse for their
age than the most favoured non-elderly age. So for every profile, with its other fields fixed, the
probability of default at any age 62-100 must be <= its minimum over the ages 18-61 at which the
profile is valid (employment and credit history no longer than age - 14).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from creditrisk.applicants.schema import FEATURES
from creditrisk.model.credit_model import split_holdout
from creditrisk.model.explain import reason_codes

AGES = np.arange(18, 101)


def scores_by_age(model, profiles: pd.DataFrame) -> np.ndarray:
    """(profiles, ages) probabilities of default, every other field fixed; invalid ages are NaN."""
    X = np.repeat(model.spec.encode_frame(profiles), len(AGES), axis=0)
    X[:, model.spec.columns.index("person_age")] = np.tile(AGES, len(profiles))
    p = model.predict_proba(X).reshape(len(profiles), len(AGES))
    held = np.maximum(profiles["person_emp_length"].fillna(0), profiles["cb_person_cred_hist_length"])
    youngest = held + 14
    return np.where(AGES[None, :] >= youngest.to_numpy()[:, None], p, np.nan)


def test_no_profile_scores_worse_at_62_or_older_than_at_its_best_age_under_62(champion, base_data) -> None:
    """Fails on an unconstrained model: 300 of 300 real holdout profiles did, by up to 0.51."""
    _, holdout = split_holdout(base_data[1])
    profiles = holdout[FEATURES].sample(300, random_state=13).reset_index(drop=True)
    p = scores_by_age(champion.model, profiles)
    best_young = np.nanmin(np.where(AGES < 62, p, np.nan), axis=1)
    worst_old = np.nanmax(np.where(AGES >= 62, p, np.nan), axis=1)
    gap = worst_old - best_young
    worse = gap > 1e-7
    assert worse.sum() == 0, (f"{worse.sum()} of {len(profiles)} profiles score worse at some age 62+ "
                              f"than at their best age under 62 (by up to {gap.max():.4f})")


def test_age_is_never_a_reason_to_deny_an_applicant_62_or_older(champion, base_data) -> None:
    _, holdout = split_holdout(base_data[1])
    profiles = holdout[FEATURES].sample(2000, random_state=14)
    elderly = pd.concat([profiles.assign(person_age=age) for age in (62, 70, 85, 100)], ignore_index=True)
    model = champion.model
    X = model.spec.encode_frame(elderly)
    denied = np.flatnonzero(model.predict(model.predict_proba(X)))
    reasons = reason_codes(model, X[denied])
    assert len(denied) > 100 and all(rs for rs in reasons)  # denials, each with its reasons
    assert not [rs for rs in reasons if "person_age" in {r["code"] for r in rs}]
