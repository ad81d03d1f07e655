"""The applicant: the `/predict` contract, and the rules the loader and the generator obey.

One table (`NUMERIC_RULES`, `CATEGORIES`, `CROSS_RULES`) drives the pydantic model used by the API,
the vectorized check used by the CSV loader, and the documentation. Units follow the data set:
money in currency units, lengths in years, the interest rate in percent, loan_percent_income a
fraction. The bounds are deliberately wider than the training data but narrow enough that the
original service's example body (income and amount in thousands, employment length in months) is
refused with a message that explains the unit, instead of being scored wrongly.

Who supplies what (`SOURCES`): the applicant states most fields; loan grade, interest rate and the
previous default on file come from the bank's own systems (pricing, the credit bureau file), and
loan_percent_income is computed by the server (`loan_percent_income`), so how an applicant states
it cannot move their decision: a stated value that disagrees beyond rounding is refused.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.json_schema import JsonDict
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
# loan_percent_income as the server computes it: loan_amnt / person_income rounded to 2 decimals, as the
# real file states it for 96.9% of rows (the rest are off by 0.01 to 0.09), and at least LPI_MIN, the
# file's smallest non-zero value (a zero would break the field's own rule, > 0).
LPI_DECIMALS = 2
LPI_MIN = 0.01
# A stated value may differ from loan_amnt / person_income by a rounding to 2 decimals (up, down or to
# nearest), no more: 0.09 off moved 47 of 150 real profiles' decisions when the model used it.
LPI_ROUNDING = 0.01

# Where each field must come from. An integrator fills the bank's fields from its own systems: an
# applicant who states them can choose their decision (bench/gaming.py: one grade step better turns
# denials into pre-approvals). The server's field needs not be sent at all.
BANK_SUPPLIED: dict[str, str] = {
    "loan_grade": "the grade the bank's pricing assigns to this loan",
    "loan_int_rate": "the rate the bank's pricing offers for this loan",
    "cb_person_default_on_file": "from the credit bureau file the bank pulls",
}
SERVER_COMPUTED = ("loan_percent_income",)
SOURCES: dict[str, str] = {f: "bank" if f in BANK_SUPPLIED else "server" if f in SERVER_COMPUTED
                           else "applicant" for f in FEATURES}


def loan_percent_income(loan_amnt: Any, person_income: Any) -> Any:
    """The server's loan_percent_income for scalars or columns: the ratio rounded, at least LPI_MIN."""
    return np.maximum(np.round(loan_amnt / person_income, LPI_DECIMALS), LPI_MIN)


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
    CrossRule("loan_amnt", ("person_income", "loan_amnt"),
              "must be at most person_income (loan_percent_income, loan_amnt / person_income "
              "rounded to 2 decimals, may not exceed 1)",
              lambda inc, amnt: loan_percent_income(amnt, inc) <= 1, "at most person_income"),
    # 1e-9: 0.59 stated for 0.6 is a rounding, whatever the binary fractions make of the difference
    CrossRule("loan_percent_income", ("loan_amnt", "person_income", "loan_percent_income"),
              f"must be within {LPI_ROUNDING:g} of loan_amnt / person_income (a rounding to 2 decimals; "
              "the server computes it, so it may be left out)",
              lambda amnt, inc, lpi: np.abs(lpi - amnt / inc) <= LPI_ROUNDING + 1e-9,
              f"within {LPI_ROUNDING:g} of loan_amnt / person_income"),
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
# A sentence before the rule, without brackets: the portal reads the unit from the last "(...)".
FIELD_DESCRIPTIONS["loan_percent_income"] = (
    "Computed by the server from loan_amnt / person_income, rounded to 2 decimals and at least "
    f"{LPI_MIN:g}: leave it out. If sent, it " + FIELD_DESCRIPTIONS["loan_percent_income"])
for _name, _where in BANK_SUPPLIED.items():
    _rule = FIELD_DESCRIPTIONS.get(_name, FIELD_RULES[_name] + ".")
    FIELD_DESCRIPTIONS[_name] = f"Bank-supplied: {_where}, not the applicant's word. M{_rule[1:]}"  # must ...
CROSS_RULES_TEXT = ("Cross-field rules (not expressible in JSON Schema; enforced with a 422 naming the "
                    "field): " + "; ".join(f"{r.field} {r.text}" for r in CROSS_RULES) + ".")


def _num(name: str, *, integer: bool = False, optional: bool = False) -> Any:
    # NaN, Infinity and 1e999 are not finite: refused, never compared against a range.
    r = NUMERIC_RULES[name]
    bounds = {"ge": r.low} if r.low_inclusive else {"gt": r.low}
    finite = {} if integer else {"allow_inf_nan": False}
    source: JsonDict = {"x-source": SOURCES[name]}
    if optional:  # left out: computed by the validator below (validate_default runs it)
        return Field(None, validate_default=True, le=r.high, description=FIELD_DESCRIPTIONS[name],
                     json_schema_extra=source, **finite, **bounds)
    return Field(..., le=r.high, description=FIELD_DESCRIPTIONS[name], json_schema_extra=source,
                 **finite, **bounds)


def _choice(name: str) -> Any:
    source: JsonDict = {"x-source": SOURCES[name]}
    return Field(..., description=FIELD_DESCRIPTIONS.get(name), json_schema_extra=source)


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
    person_home_ownership: HomeOwnership = _choice("person_home_ownership")
    person_emp_length: float = _num("person_emp_length")
    loan_intent: LoanIntent = _choice("loan_intent")
    loan_grade: LoanGrade = _choice("loan_grade")
    loan_amnt: float = _num("loan_amnt")
    loan_int_rate: float = _num("loan_int_rate")
    loan_percent_income: float | None = _num("loan_percent_income", optional=True)
    cb_person_default_on_file: YesNo = _choice("cb_person_default_on_file")
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

    @field_validator(*{r.field for r in CROSS_RULES})
    @classmethod
    def _cross_field(cls, value: float | None, info: ValidationInfo) -> float | None:
        for rule in CROSS_RULES:
            if rule.field != info.field_name or any(n not in info.data for n in rule.needs[:-1]):
                continue  # an earlier field already failed; its own error names it
            args = [info.data[n] for n in rule.needs[:-1]] + [value]
            if value is not None and not bool(rule.check(*args)):
                raise PydanticCustomError("consistency", "{field} {rule}",
                                          {"field": info.field_name, "rule": rule.text})
        if info.field_name == "loan_percent_income" and {"loan_amnt", "person_income"} <= info.data.keys():
            return float(loan_percent_income(info.data["loan_amnt"], info.data["person_income"]))
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
