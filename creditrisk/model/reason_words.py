"""Adverse-action reasons in the applicant's own terms: their characteristic, and which way it weighed.

A reason names what the applicant told us, with their value where it helps ("Loan amount is 59% of
your income", "Renting rather than owning your home"), never a field name or a model's internals.
Only a value that can weigh against an applicant has words: "no previous default on file" is never
a reason (None). Money is in the currency units the applicant entered; lengths in years.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from creditrisk.model.features import FeatureSpec

HOUSING = {"RENT": "Renting rather than owning your home",
           "MORTGAGE": "Paying a mortgage rather than owning your home outright",
           "OTHER": "Neither owning nor renting your home",
           "OWN": "Owning your home outright"}
INTENT = {"EDUCATION": "Borrowing for education", "MEDICAL": "Borrowing for medical expenses",
          "VENTURE": "Borrowing for a business venture", "PERSONAL": "Borrowing for personal use",
          "DEBTCONSOLIDATION": "Borrowing to consolidate other debts",
          "HOMEIMPROVEMENT": "Borrowing for home improvement"}


def _money(x: float) -> str:
    return f"{x:,.0f}"


def _years(x: float) -> str:
    """A short length in years, said as short: "less than a year", "only 3 years"."""
    if x < 1:
        return "less than a year"
    return "only 1 year" if x == 1 else f"only {x:g} years"


def _employment(r: Mapping[str, Any]) -> str:
    emp = r["person_emp_length"]
    return "Length of employment not given" if math.isnan(emp) else f"Employed for {_years(emp)}"


WORDS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "person_age": lambda r: f"Your age ({r['person_age']:g})",
    "person_income": lambda r: f"Annual income of {_money(r['person_income'])} is low for this loan",
    "person_home_ownership": lambda r: HOUSING[r["person_home_ownership"]],
    "person_emp_length": _employment,
    "loan_intent": lambda r: INTENT[r["loan_intent"]],
    "loan_amnt": lambda r: f"Loan amount of {_money(r['loan_amnt'])} is large",
    "loan_percent_income": lambda r: f"Loan amount is {r['loan_amnt'] / r['person_income']:.0%} of your "
                                     "income",
    "cb_person_default_on_file": lambda r: "A previous default on your credit file"
    if r["cb_person_default_on_file"] == "Y" else None,
    "cb_person_cred_hist_length": lambda r: f"Credit history of {_years(r['cb_person_cred_hist_length'])}",
}


def decode(spec: FeatureSpec, X: np.ndarray) -> list[dict[str, Any]]:
    """Encoded rows back to the applicant's values (categories as their names)."""
    names = {c: {code: name for name, code in spec.codes[c].items()} for c in spec.codes}
    return [{c: names[c][int(v)] if c in names and not math.isnan(v) else float(v)
             for c, v in zip(spec.columns, x, strict=True)} for x in X]


def reason_text(field: str, row: Mapping[str, Any]) -> str | None:
    """The words for `field` weighing against the applicant of `row` (decoded); None if it cannot."""
    return WORDS[field](row)
