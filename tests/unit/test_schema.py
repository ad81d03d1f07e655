"""The applicant contract: every rule refuses with the field, the value and the rule."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from creditrisk.schema import EXAMPLE_APPLICANT, FIELD_RULES, Applicant, invalid_rows

ORIGINAL_EXAMPLE = {  # the original service's documented body: thousands and months
    "person_age": 22, "person_income": 59, "person_home_ownership": "RENT", "person_emp_length": 123,
    "loan_intent": "PERSONAL", "loan_grade": "D", "loan_amnt": 35, "loan_int_rate": 16.2,
    "loan_percent_income": 0.59, "cb_person_default_on_file": "Y", "cb_person_cred_hist_length": 3,
}

# (field, bad value, other overrides needed to isolate the rule, words the message must contain)
CASES: list[tuple[str, Any, dict[str, Any], str]] = [
    ("person_age", 17, {"person_emp_length": 1, "cb_person_cred_hist_length": 1}, "18"),
    ("person_age", 144, {}, "100"),
    ("person_income", 0, {}, "1000"),
    ("person_income", 59, {}, "1000"),
    ("person_emp_length", -1, {}, "0"),
    ("person_emp_length", 9, {}, "person_age - 14"),
    ("person_home_ownership", "CASTLE", {}, "RENT"),
    ("loan_intent", "HOLIDAY", {}, "VENTURE"),
    ("loan_grade", "H", {}, "'A'"),
    ("loan_amnt", 35, {}, "100"),
    ("loan_int_rate", 0.162, {}, "1"),
    ("loan_int_rate", 45, {}, "40"),
    ("loan_percent_income", 0, {}, "0"),
    ("loan_percent_income", 1.5, {}, "1"),
    ("loan_percent_income", 0.2, {}, "loan_amnt / person_income"),
    ("cb_person_default_on_file", "maybe", {}, "'Y'"),
    ("cb_person_cred_hist_length", 9, {}, "person_age - 14"),
    ("person_age", "old", {}, "integer"),
]


def errors_for(body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as exc:
        Applicant(**body)
    return exc.value.errors()


def test_example_is_valid_and_round_trips() -> None:
    a = Applicant(**EXAMPLE_APPLICANT)
    assert Applicant(**a.to_row()) == a
    assert a.to_row()["loan_grade"] == "D"


@pytest.mark.parametrize("field,value,extra,words", CASES, ids=[f"{c[0]}={c[1]}" for c in CASES])
def test_each_rule_names_field_value_and_rule(field: str, value: Any, extra: dict, words: str) -> None:
    errs = errors_for({**EXAMPLE_APPLICANT, **extra, field: value})
    assert [e["loc"] for e in errs] == [(field,)], errs
    assert errs[0]["input"] == value
    assert words in errs[0]["msg"] or words in str(errs[0].get("ctx", "")), errs[0]
    assert field in FIELD_RULES


def test_unknown_and_missing_fields_are_refused() -> None:
    errs = errors_for({**EXAMPLE_APPLICANT, "favourite_colour": "blue"})
    assert [(e["loc"], e["type"]) for e in errs] == [(("favourite_colour",), "extra_forbidden")]
    body = dict(EXAMPLE_APPLICANT)
    del body["loan_grade"]
    assert [(e["loc"], e["type"]) for e in errors_for(body)] == [(("loan_grade",), "missing")]


def test_original_example_in_thousands_and_months_is_refused_with_units() -> None:
    errs = {e["loc"][0]: e for e in errors_for(ORIGINAL_EXAMPLE)}
    assert set(errs) == {"person_income", "person_emp_length", "loan_amnt"}
    assert "not 59 thousand" in FIELD_RULES["person_income"]
    assert "not months" in FIELD_RULES["person_emp_length"]


def test_vectorized_rules_agree_with_the_pydantic_model() -> None:
    """The loader's frame check and the API's model are one rule set: same verdict per row."""
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(400):
        row = dict(EXAMPLE_APPLICANT)
        row["person_age"] = int(rng.integers(10, 120))
        row["person_emp_length"] = float(rng.integers(-2, 90))
        row["person_income"] = float(rng.choice([0, 500, 20_000, 90_000]))
        row["loan_amnt"] = float(rng.choice([50, 5_000, 30_000]))
        row["loan_percent_income"] = round(float(rng.uniform(0, 1.4)), 2)
        row["cb_person_cred_hist_length"] = float(rng.integers(0, 40))
        rows.append(row)
    frame_verdict = invalid_rows(pd.DataFrame(rows)).any(axis=1).tolist()
    model_verdict = []
    for row in rows:
        try:
            Applicant(**row)
            model_verdict.append(False)
        except ValidationError:
            model_verdict.append(True)
    assert frame_verdict == model_verdict
    assert 50 < sum(model_verdict) < 400  # both kinds of rows were exercised
