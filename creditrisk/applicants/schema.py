"""The applicant: the `/predict` contract, and the rules the loader and the generator obey.

One table (`NUMERIC_RULES`, `CATEGORIES`, `CROSS_RULES`) drives the pydantic model used by the API,
the vectorized check used by the CSV loader, and the documentation. Units follow the data set:
money in currency units, lengths in years, the interest rate in percent, loan_percent_income a
fraction. The bounds are deliberately wider than the training data but narrow enough that the
original service's example body (income and amount in thousands, employment length in months) is
refused with a message that explains the unit, instead of being scored wrongly.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

LABEL = "loan_status"  # the outcome column: 1 = the loan defaulted


class HomeOwnership(str, Enum):
    RENT = "RENT"
    OWN = "OWN"
    MORTGAGE = "MORTGAGE"
    OTHER = "OTHER"


class LoanIntent(str, Enum):
    EDUCATION = "EDUCATION"
    MEDICAL = "MEDICAL"
    VENTURE = "VENTURE"
    PERSONAL = "PERSONAL"
    DEBTCONSOLIDATION = "DEBTCONSOLIDATION"
    HOMEIMPROVEMENT = "HOMEIMPROVEMENT"


class LoanGrade(str, Enum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"
    G = "G"


class YesNo(str, Enum):
    Y = "Y"
    N = "N"


CATEGORIES: dict[str, list[str]] = {
    "person_home_ownership": [e.value for e in HomeOwnership],
    "loan_intent": [e.value for e in LoanIntent],
    "loan_grade": [e.value for e in LoanGrade],
    "cb_person_default_on_file": [e.value for e in YesNo],
}


@dataclass(frozen=True)
class NumericRule:
    low: float
    high: float
    unit: str
    low_inclusive: bool = True

    def text(self, *also: str) -> str:
        """The rule in words, with any further clauses (`also`) before the unit, which stays last."""
        op = ">=" if self.low_inclusive else ">"
        more = "".join(f", and {clause}" for clause in also)
        return f"must be {op} {self.low:g} and <= {self.high:g}{more} ({self.unit})"


NUMERIC_RULES: dict[str, NumericRule] = {
    "person_age": NumericRule(18, 100, "whole years"),
    "person_income": NumericRule(1_000, 10_000_000,
                                 "annual income in currency units, e.g. 59000, not 59 thousand"),
    "person_emp_length": NumericRule(0, 70, "years of employment, not months"),
    "loan_amnt": NumericRule(100, 1_000_000, "currency units, e.g. 35000, not 35 thousand"),
    "loan_int_rate": NumericRule(1, 40, "percent per year, e.g. 16.2, not 0.162"),
    "loan_percent_income": NumericRule(0, 1, "fraction loan_amnt / person_income, e.g. 0.59",
                                       low_inclusive=False),
    "cb_person_cred_hist_length": NumericRule(0, 80, "years of credit history"),
}

# The field order of the original service; also the model's column order.
FEATURES: list[str] = [
    "person_age", "person_income", "person_home_ownership", "person_emp_length", "loan_intent",
    "loan_grade", "loan_amnt", "loan_int_rate", "loan_percent_income", "cb_person_default_on_file",
    "cb_person_cred_hist_length",
]
NUMERIC_FEATURES = [f for f in FEATURES if f in NUMERIC_RULES]
CATEGORICAL_FEATURES = [f for f in FEATURES if f in CATEGORIES]

MIN_WORKING_AGE = 14
LPI_TOLERANCE = 0.10  # the real data's largest |loan_percent_income - amnt/income| is 0.093


@dataclass(frozen=True)
class CrossRule:
    """A rule over several fields; `check` works on scalars and on numpy/pandas columns alike."""
    field: str
    needs: tuple[str, ...]
    text: str
    check: Callable[..., Any]
    clause: str  # the rule as a clause of the field's description ("<= person_age - 14")


CROSS_RULES: list[CrossRule] = [
    CrossRule("person_emp_length", ("person_age", "person_emp_length"),
              f"must be <= person_age - {MIN_WORKING_AGE} (years, not months)",
              lambda age, emp: emp <= age - MIN_WORKING_AGE, f"<= person_age - {MIN_WORKING_AGE}"),
    CrossRule("cb_person_cred_hist_length", ("person_age", "cb_person_cred_hist_length"),
              f"must be <= person_age - {MIN_WORKING_AGE} (years)",
              lambda age, hist: hist <= age - MIN_WORKING_AGE, f"<= person_age - {MIN_WORKING_AGE}"),
    CrossRule("loan_percent_income", ("loan_amnt", "person_income", "loan_percent_income"),
              f"must equal loan_amnt / person_income within {LPI_TOLERANCE:g}",
              lambda amnt, inc, lpi: np.abs(lpi - amnt / inc) <= LPI_TOLERANCE,
              f"within {LPI_TOLERANCE:g} of loan_amnt / person_income"),
]

FIELD_RULES: dict[str, str] = {
    **{k: r.text() for k, r in NUMERIC_RULES.items()},
    **{k: "must be one of " + ", ".join(v) for k, v in CATEGORIES.items()},
}
for _r in CROSS_RULES:
    FIELD_RULES[_r.field] += "; " + _r.text

# JSON Schema cannot state a rule over several fields, so the OpenAPI document says them in words: as a
# clause of each field's description and, all together, in the model's. The unit stays the description's
# last "(...)": the portal shows it as the field's hint.
FIELD_DESCRIPTIONS: dict[str, str] = {
    k: r.text(*(c.clause for c in CROSS_RULES if c.field == k)) for k, r in NUMERIC_RULES.items()}
CROSS_RULES_TEXT = ("Cross-field rules (not expressible in JSON Schema; enforced with a 422 naming the "
                    "field): " + "; ".join(f"{r.field} {r.text}" for r in CROSS_RULES) + ".")


def _num(name: str, *, integer: bool = False) -> Any:
    # NaN, Infinity and 1e999 are not finite: refused, never compared against a range.
    r = NUMERIC_RULES[name]
    bounds = {"ge": r.low} if r.low_inclusive else {"gt": r.low}
    finite = {} if integer else {"allow_inf_nan": False}
    return Field(..., le=r.high, description=FIELD_DESCRIPTIONS[name], **finite, **bounds)


EXAMPLE_APPLICANT: dict[str, Any] = {
    "person_age": 22, "person_income": 59000, "person_home_ownership": "RENT", "person_emp_length": 5,
    "loan_intent": "PERSONAL", "loan_grade": "D", "loan_amnt": 35000, "loan_int_rate": 16.02,
    "loan_percent_income": 0.59, "cb_person_default_on_file": "Y", "cb_person_cred_hist_length": 3,
}

# The original service's documented body, in thousands and months: refused (422), never scored.
ORIGINAL_EXAMPLE: dict[str, Any] = {
    "person_age": 22, "person_income": 59, "person_home_ownership": "RENT", "person_emp_length": 123,
    "loan_intent": "PERSONAL", "loan_grade": "D", "loan_amnt": 35, "loan_int_rate": 16.2,
    "loan_percent_income": 0.59, "cb_person_default_on_file": "Y", "cb_person_cred_hist_length": 3,
}


def _applicant_schema_extra(schema: dict[str, Any]) -> None:
    """Adds the example and, after the docstring, the cross-field rules to the applicant's JSON Schema."""
    schema["examples"] = [EXAMPLE_APPLICANT]
    schema["description"] = f"{schema.get('description', '')} {CROSS_RULES_TEXT}".strip()


class Applicant(BaseModel):
    """One loan application, as the portal sends it. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_applicant_schema_extra)

    person_age: int = _num("person_age", integer=True)
    person_income: float = _num("person_income")
    person_home_ownership: HomeOwnership
    person_emp_length: float = _num("person_emp_length")
    loan_intent: LoanIntent
    loan_grade: LoanGrade
    loan_amnt: float = _num("loan_amnt")
    loan_int_rate: float = _num("loan_int_rate")
    loan_percent_income: float = _num("loan_percent_income")
    cb_person_default_on_file: YesNo
    cb_person_cred_hist_length: float = _num("cb_person_cred_hist_length")

    @field_validator(*NUMERIC_RULES, mode="before")
    @classmethod
    def _a_json_number(cls, value: Any) -> Any:
        # A JSON number only: `true` is not an interest rate, and "52000" (a string) is refused rather
        # than guessed at: a client that quotes numbers has a bug that may hide others ("59k").
        # (22.0 for an age is a number and is accepted; 22.5 is not a whole number of years.)
        if isinstance(value, bool | str):
            raise PydanticCustomError("number_type", "Input should be a JSON number, not {kind}",
                                      {"kind": "a boolean" if isinstance(value, bool) else "a string"})
        return value

    @field_validator("person_emp_length", "loan_percent_income", "cb_person_cred_hist_length")
    @classmethod
    def _cross_field(cls, value: float, info: ValidationInfo) -> float:
        for rule in CROSS_RULES:
            if rule.field != info.field_name or any(n not in info.data for n in rule.needs[:-1]):
                continue  # an earlier field already failed; its own error names it
            args = [info.data[n] for n in rule.needs[:-1]] + [value]
            if not bool(rule.check(*args)):
                raise PydanticCustomError("consistency", "{field} {rule}",
                                          {"field": info.field_name, "rule": rule.text})
        return value

    def to_row(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def invalid_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Vectorized twin of `Applicant`: one boolean column per rule, True where a row breaks it.

    Missing values are not violations here (the loader decides what to do with them).
    """
    out: dict[str, pd.Series] = {}
    for name, r in NUMERIC_RULES.items():
        col = df[name]
        low_ok = col >= r.low if r.low_inclusive else col > r.low
        out[f"{name}: {r.text()}"] = col.notna() & ~(low_ok & (col <= r.high))
    for name, allowed in CATEGORIES.items():
        out[f"{name}: {FIELD_RULES[name]}"] = df[name].notna() & ~df[name].isin(allowed)
    for rule in CROSS_RULES:
        cols = [df[n] for n in rule.needs]
        known = pd.concat(cols, axis=1).notna().all(axis=1)
        out[f"{rule.field}: {rule.text}"] = known & ~pd.Series(rule.check(*cols), index=df.index).fillna(True)
    return pd.DataFrame(out, index=df.index)
