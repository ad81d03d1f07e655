"""Response and request bodies of the HTTP API other than the applicant (`creditrisk.applicants.schema`).

They document the API in `/docs`; the hot path builds plain dicts of the same shape.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from creditrisk.applicants.schema import EXAMPLE_APPLICANT, ORIGINAL_EXAMPLE

# The examples leave loan_percent_income out: the server computes it (a stated one must agree with it).
_SENT = {k: v for k, v in EXAMPLE_APPLICANT.items() if k != "loan_percent_income"}
PREDICT_EXAMPLES: dict[str, Any] = {
    "denied": {"summary": "A realistic applicant (money in currency units, lengths in years)",
               "value": _SENT},
    "approved": {"summary": "A lower-risk applicant",
                 "value": {**_SENT, "person_age": 35, "person_income": 85000,
                           "person_home_ownership": "MORTGAGE", "person_emp_length": 9,
                           "loan_intent": "EDUCATION", "loan_grade": "A", "loan_amnt": 8000,
                           "loan_int_rate": 7.5, "cb_person_default_on_file": "N",
                           "cb_person_cred_hist_length": 12}},
    "wrong_units": {"summary": "The original service's example (thousands, months): refused with 422",
                    "value": ORIGINAL_EXAMPLE},
}


class ModelRef(BaseModel):
    name: str
    version: str


STAFF_ONLY = "only with the staff bearer token ($CREDITRISK_OUTCOMES_TOKEN); absent from anonymous answers"


class ReasonOut(BaseModel):
    code: str = Field(description="the applicant field behind the reason")
    text: str = Field(description="the reason in plain words")
    contribution: float | None = Field(None, description="log-odds the factor added towards default: "
                                       + STAFF_ONLY)


class PredictResponse(BaseModel):
    request_id: str = Field(description="quote it when reporting the outcome to POST /outcomes")
    prediction: Literal[0, 1] = Field(description="1 = predicted default")
    decision: Literal["pre-approved", "denied"]
    probability_of_default: float | None = Field(None, description=STAFF_ONLY)
    threshold: float | None = Field(None, description="probability of default at or above which the decision "
                                    f"is denied: {STAFF_ONLY}")
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


class PartOut(BaseModel):
    """One part's section of /readyz: `state` and `since` for anyone; the rest with the outcomes token."""
    model_config = ConfigDict(extra="allow")

    state: Literal["ok", "degraded", "down"]
    since: str = Field(description="when the part entered this state (UTC, ISO 8601)")
    last_error: str | None = Field(None, description="the part's last error, kept after it recovered")
    last_error_at: str | None = None


class ModelPart(PartOut):
    name: str | None = None
    version: str | None = Field(None, description="the version this replica scores with")
    run_id: str | None = None
    loaded_at: str | None = None
    threshold: float | None = None
    alias: str | None = Field(None, description="the registry alias the replica follows")
    pinned_version: str | None = None
    reload_interval_s: float | None = None
    audited_version: str | None = Field(None, description="the version the latest verified change-control "
                                        "event made champion (not checked for a pin)")
    stray_version: str | None = Field(None, description="the version @champion names without a "
                                      "change-control event; not served")


class RegistryPart(PartOut):
    checked_at: str | None = Field(None, description="when the replica last asked where the alias points")
    alias_version: str | None = None


class RequestLogPart(PartOut):
    backlog_rows: int | None = Field(None, description="answered requests in this replica's write-ahead "
                                     "log, not yet in the store")
    backlog_bytes: int | None = Field(None, description="disk the backlog uses")
    budget_bytes: int | None = Field(None, description="disk the backlog may use while the store is down")
    when_full: Literal["queue", "refuse"] | None = Field(
        None, description="beyond the budget: keep answering and alert, or answer 503")
    fsync: bool | None = Field(None, description="each answer waits for an fsync of its log line "
                               "(group-committed)")
    written: int | None = Field(None, description="rows this replica shipped to the store")
    quarantined_rows: int | None = Field(None, description="rows the store's schema refused, kept apart "
                                         "with their error")
    torn_lines: int | None = Field(None, description="unreadable log lines found (a write cut by a crash)")
    last_flush_at: str | None = None
    flush_interval_s: float | None = None
    oldest_unshipped_age_s: float | None = Field(None, description="seconds the oldest row not yet in the "
                                                  "store has waited, anywhere under the log's root")
    stale: bool | None = Field(None, description="that row is older than stale_after_s (alerted once; "
                               "the replica stays ready)")
    stale_after_s: float | None = None


class StorePart(PartOut):
    backend: str | None = Field(None, description="local-parquet or bigquery")
    quarantined_files: int | None = Field(None, description="unreadable store files moved aside (reads "
                                          "skip them)")


class ReadyOut(BaseModel):
    """/readyz: `unready` (503) without a model; `degraded` while another part fails; else `ready`."""
    status: Literal["ready", "degraded", "unready"]
    replica: str | None
    started_at: str
    model: ModelPart
    registry: RegistryPart
    request_log: RequestLogPart
    store: StorePart


class ErrorOut(BaseModel):
    error: str
    message: str
    detail: list[dict[str, Any]] | None = None
