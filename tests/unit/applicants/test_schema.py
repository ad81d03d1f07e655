"""The applicant contract: every rule refuses with the field, the value and the rule."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from creditrisk.applicants.schema import (
    EXAMPLE_APPLICANT,
    LPI_MIN,
    ORIGINAL_EXAMPLE,
    Applicant,
    invalid_rows,
    loan_percent_income,
)

ANY_ENUM = "enum"
LPI_RULE = ("must be within 0.01 of loan_amnt / person_income (a rounding to 2 decimals; the server computes "
            "it, so it may be left out)")
# (field, bad value, other overrides needed to isolate the rule, pydantic error type, the rule's bound)
CASES: list[tuple[str, Any, dict[str, Any], str, Any]] = [
    ("person_age", 17, {"person_emp_length": 1, "cb_person_cred_hist_length": 1}, "greater_than_equal",
     {"ge": 18}),
    ("person_age", 144, {}, "less_than_equal", {"le": 100}),
    ("person_income", 0, {}, "greater_than_equal", {"ge": 1000.0}),
    ("person_income", 59, {}, "greater_than_equal", {"ge": 1000.0}),
    ("person_emp_length", -1, {}, "greater_than_equal", {"ge": 0.0}),
    ("person_emp_length", 9, {}, "consistency", "must be <= person_age - 14 (years, not months)"),
    ("person_home_ownership", "CASTLE", {}, ANY_ENUM, {"expected": "'RENT', 'OWN', 'MORTGAGE' or 'OTHER'"}),
    ("loan_intent", "HOLIDAY", {}, ANY_ENUM, {"expected": "'EDUCATION', 'MEDICAL', 'VENTURE', 'PERSONAL', "
                                                           "'DEBTCONSOLIDATION' or 'HOMEIMPROVEMENT'"}),
    ("loan_grade", "H", {}, ANY_ENUM, {"expected": "'A', 'B', 'C', 'D', 'E', 'F' or 'G'"}),
    ("loan_amnt", 35, {}, "greater_than_equal", {"ge": 100.0}),
    ("loan_int_rate", 0.162, {}, "greater_than_equal", {"ge": 1.0}),
    ("loan_int_rate", 45, {}, "less_than_equal", {"le": 40.0}),
    ("loan_percent_income", 0, {}, "greater_than", {"gt": 0.0}),
    ("loan_percent_income", 1.5, {}, "less_than_equal", {"le": 1.0}),
    ("loan_percent_income", 0.2, {}, "consistency", LPI_RULE),
    ("loan_percent_income", 0.57, {}, "consistency", LPI_RULE),  # 0.593 stated 0.02 under: not a rounding
    ("loan_amnt", 61_000, {"loan_percent_income": None}, "consistency", "must be at most person_income "
     "(loan_percent_income, loan_amnt / person_income rounded to 2 decimals, may not exceed 1)"),
    ("cb_person_default_on_file", "maybe", {}, ANY_ENUM, {"expected": "'Y' or 'N'"}),
    ("cb_person_cred_hist_length", 9, {}, "consistency", "must be <= person_age - 14 (years)"),
    ("person_age", "old", {}, "number_type", {"kind": "a string"}),
    ("person_income", "52000", {}, "number_type", {"kind": "a string"}),
    ("loan_int_rate", True, {}, "number_type", {"kind": "a boolean"}),
    ("loan_amnt", float("inf"), {}, "finite_number", None),
    ("loan_int_rate", float("nan"), {}, "finite_number", None),
]


def errors_for(body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as exc:
        Applicant(**body)
    return exc.value.errors()


def test_example_is_valid_and_round_trips() -> None:
    a = Applicant(**EXAMPLE_APPLICANT)
    assert Applicant(**a.to_row()) == a
    assert a.to_row()["loan_grade"] == "D"


@pytest.mark.parametrize("field,value,extra,kind,rule", CASES, ids=[f"{c[0]}={c[1]}" for c in CASES])
def test_each_rule_names_field_value_and_rule(field: str, value: Any, extra: dict, kind: str,
                                              rule: Any) -> None:
    errs = errors_for({**EXAMPLE_APPLICANT, **extra, field: value})
    assert [e["loc"] for e in errs] == [(field,)], errs
    assert repr(errs[0]["input"]) == repr(value) and errs[0]["type"] == kind  # repr: nan != nan
    if kind == "consistency":  # a cross-field rule: the context names the field and the rule in words
        assert errs[0]["ctx"] == {"field": field, "rule": rule}
    else:
        assert errs[0].get("ctx") == rule


@pytest.mark.parametrize("stated", [None, 0.59, 0.60, 0.5932, 0.593220339])
def test_the_server_computes_loan_percent_income_and_takes_any_rounding_of_it(stated: float | None) -> None:
    body = {**EXAMPLE_APPLICANT, "loan_percent_income": stated}  # 35000 / 59000 = 0.5932...
    if stated is None:
        del body["loan_percent_income"]
    assert Applicant(**body).to_row()["loan_percent_income"] == 0.59


def test_a_tiny_loan_states_the_smallest_ratio_and_the_column_rule_is_the_scalar_one() -> None:
    row = Applicant(**{**EXAMPLE_APPLICANT, "loan_amnt": 100, "person_income": 900_000,
                       "loan_percent_income": None}).to_row()
    assert row["loan_percent_income"] == LPI_MIN == 0.01  # 0.0001 rounds to 0, which the field refuses
    amounts, incomes = np.array([100.0, 35_000, 1_005, 5_000]), np.array([900_000.0, 59_000, 1_000, 8_000])
    assert loan_percent_income(amounts, incomes).tolist() == [0.01, 0.59, 1.0, 0.62]


def test_unknown_and_missing_fields_are_refused() -> None:
    errs = errors_for({**EXAMPLE_APPLICANT, "favourite_colour": "blue"})
    assert [(e["loc"], e["type"]) for e in errs] == [(("favourite_colour",), "extra_forbidden")]
    body = dict(EXAMPLE_APPLICANT)
    del body["loan_grade"]
    assert [(e["loc"], e["type"]) for e in errors_for(body)] == [(("loan_grade",), "missing")]


def test_original_example_in_thousands_and_months_is_refused_with_units() -> None:
    errs = {e["loc"][0]: e["type"] for e in errors_for(ORIGINAL_EXAMPLE)}
    assert errs == {"person_income": "greater_than_equal", "person_emp_length": "less_than_equal",
                    "loan_amnt": "greater_than_equal"}


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
