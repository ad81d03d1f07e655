"""Denial reasons in the applicant's own terms; the lender's pricing credited, never stated."""
from __future__ import annotations

import re

import numpy as np
import pytest

from creditrisk.applicants.schema import EXAMPLE_APPLICANT, FEATURES
from creditrisk.model.credit_model import split_holdout
from creditrisk.model.explain import reason_codes
from creditrisk.model.reason_words import reason_text

FIELD_NAME = re.compile(r"[a-z]+_[a-z]+")  # person_income, loan_grade...: never shown to an applicant


def test_the_example_denial_reads_in_plain_words(champion) -> None:
    model = champion.model
    (reasons,) = reason_codes(model, model.spec.encode_rows([EXAMPLE_APPLICANT]))
    texts = [r["text"] for r in reasons]
    assert len(texts) == 4 and texts[0] == "Loan amount is 59% of your income"
    assert "Renting rather than owning your home" in texts
    assert "A previous default on your credit file" in texts


def test_reasons_on_real_denials_are_characteristics_never_pricing(champion, base_data) -> None:
    model = champion.model
    _, holdout = split_holdout(base_data[1])
    X = model.spec.encode_frame(holdout[FEATURES])
    denied = np.flatnonzero(model.predict(model.predict_proba(X)))
    reasons = reason_codes(model, X[denied])
    assert len(reasons) > 1000 and all(1 <= len(rs) <= 4 for rs in reasons)
    codes = {r["code"] for rs in reasons for r in rs}
    assert not codes & {"loan_grade", "loan_int_rate", "loan_to_income"}
    texts = [r["text"] for rs in reasons for r in rs]
    assert all(not FIELD_NAME.search(t) and "grade" not in t.lower() for t in texts)
    assert all([r["contribution"] for r in rs] == sorted((r["contribution"] for r in rs), reverse=True)
               for rs in reasons)


def test_the_pricing_credit_never_exceeds_the_rise_nor_what_a_characteristic_predicts(champion,
                                                                                      base_data) -> None:
    model = champion.model
    X = model.spec.encode_frame(base_data[1][FEATURES].head(3000))
    fields = list(FEATURES)
    effect = np.random.default_rng(0).normal(0, 1, len(X))
    credited = model.pricing.attribute(model.spec, X, fields, effect)
    predicted = model.pricing.terms(model.spec, X, fields)
    assert (credited >= 0).all() and (credited <= np.clip(predicted, 0, None) + 1e-12).all()
    assert (credited.sum(axis=1) <= np.clip(effect, 0, None) + 1e-9).all()
    assert (credited[effect <= 0] == 0).all() and credited[effect > 0].sum() > 0
    assert credited[:, [fields.index("loan_grade"), fields.index("loan_int_rate")]].sum() == 0
    assert 0.1 < model.pricing.r2 < 1  # the characteristics explain part of the pricing, not all of it


@pytest.mark.parametrize("field,values,text", [
    ("person_emp_length", {"person_emp_length": 0.5}, "Employed for less than a year"),
    ("person_emp_length", {"person_emp_length": 1.0}, "Employed for only 1 year"),
    ("person_emp_length", {"person_emp_length": float("nan")}, "Length of employment not given"),
    ("cb_person_cred_hist_length", {"cb_person_cred_hist_length": 3.0}, "Credit history of only 3 years"),
    ("loan_percent_income", {"loan_amnt": 35000.0, "person_income": 59000.0},
     "Loan amount is 59% of your income"),
    ("loan_amnt", {"loan_amnt": 24000.0}, "Loan amount of 24,000 is large"),
    ("person_home_ownership", {"person_home_ownership": "RENT"}, "Renting rather than owning your home"),
    ("loan_intent", {"loan_intent": "DEBTCONSOLIDATION"}, "Borrowing to consolidate other debts"),
    ("cb_person_default_on_file", {"cb_person_default_on_file": "N"}, None),  # nothing against them
])
def test_reason_words(field: str, values: dict, text: str | None) -> None:
    assert reason_text(field, values) == text
