"""Response and request bodies of the HTTP API other than the applicant (`creditrisk.schema`).

They document the API in `/docs`; the hot path builds plain dicts of the same shape.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from creditrisk.schema import EXAMPLE_APPLICANT

ORIGINAL_EXAMPLE: dict[str, Any] = {  # the original service's documented body: thousands and months
    "person_age": 22, "person_income": 59, "person_home_ownership": "RENT", "person_emp_length": 123,
    "loan_intent": "PERSONAL", "loan_grade": "D", "loan_amnt": 35, "loan_int_rate": 16.2,
    "loan_percent_income": 0.59, "cb_person_default_on_file": "Y", "cb_person_cred_hist_length": 3,
}
PREDICT_EXAMPLES: dict[str, Any] = {
    "denied": {"summary": "A realistic applicant (money in currency units, lengths in years)",
               "value": EXAMPLE_APPLICANT},
    "approved": {"summary": "A lower-risk applicant",
                 "value": {**EXAMPLE_APPLICANT, "person_age": 35, "person_income": 85000,
                           "person_home_ownership": "MORTGAGE", "person_emp_length": 9,
                           "loan_intent": "EDUCATION", "loan_grade": "A", "loan_amnt": 8000,
                           "loan_int_rate": 7.5, "loan_percent_income": 0.09,
                           "cb_person_default_on_file": "N", "cb_person_cred_hist_length": 12}},
    "wrong_units": {"summary": "The original service's example (thousands, months): refused with 422",
                    "value": ORIGINAL_EXAMPLE},
}


class ModelRef(BaseModel):
    name: str
    version: str


class ReasonOut(BaseModel):
    code: str = Field(description="the applicant field behind the reason")
    text: str = Field(description="the reason in plain words")
    contribution: float = Field(description="log-odds the factor added towards default")


class PredictResponse(BaseModel):
    request_id: str = Field(description="quote it when reporting the outcome to POST /outcomes")
    prediction: Literal[0, 1] = Field(description="1 = predicted default")
    decision: Literal["pre-approved", "denied"]
    probability_of_default: float
    threshold: float = Field(description="probability of default at or above which the decision is denied")
    model: ModelRef
    reasons: list[ReasonOut] = Field(description="top factors towards denial (adverse-action reasons); "
                                     "computed for denials only, empty when pre-approved")




class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"request_id": "0190f1c2-7a3b-7c4d-8e5f-0123456789ab", "loan_status": 1}]})

    request_id: str = Field(min_length=1, max_length=64)
    loan_status: Literal[0, 1] = Field(description="1 = the loan defaulted, 0 = repaid")


MAX_OUTCOME_BATCH = 5_000


class OutcomeBatchIn(BaseModel):
    """Outcomes reported together, as a back office does at the end of a day."""
    model_config = ConfigDict(extra="forbid")

    outcomes: list[OutcomeIn] = Field(min_length=1, max_length=MAX_OUTCOME_BATCH)


class OutcomeBatchOut(BaseModel):
    recorded: int
    reported_at: str


class OutcomeOut(BaseModel):
    request_id: str
    loan_status: int
    reported_at: str


class ErrorOut(BaseModel):
    error: str
    message: str
    detail: list[dict[str, Any]] | None = None
