"""Adverse-action reason codes: the factors that pushed an applicant towards denial.

From XGBoost's own per-feature contributions (log-odds, Saabas approximation: ~0.4 ms per row
where exact TreeSHAP costs ~12 ms). A reason is an applicant characteristic whose contribution
raised the probability of default, at most four, in the applicant's own words
(`creditrisk.model.reason_words`); the derived `loan_to_income` counts as its source field. Grade and
rate are the lender's pricing, never reasons: their effect is credited to the characteristics
that predict it (`creditrisk.model.pricing`). Age is never a reason for an applicant aged 62 or older
(Reg B: their age may not weigh against them; the model's age rule makes that true).
"""
from __future__ import annotations

from typing import TypedDict

import numpy as np

from creditrisk.model.credit_model import CreditModel
from creditrisk.model.fairness import ELDERLY_AGE
from creditrisk.model.pricing import PRICING_FEATURES, SOURCE_OF
from creditrisk.model.reason_words import decode, reason_text

# Adverse-action reasons: at most four, as the Reg B commentary advises (Supp. I, 1002.9(b)(2)-1)
MAX_REASONS = 4

MERGED_INTO = SOURCE_OF  # the derived column counts as the field it restates


class Reason(TypedDict):
    code: str
    text: str
    contribution: float


def reason_codes(model: CreditModel, X: np.ndarray, top_k: int = MAX_REASONS) -> list[list[Reason]]:
    """For each row, up to `top_k` characteristics with the largest positive contribution to default."""
    if len(X) == 0:
        return []
    contrib = model.contributions(X)
    names = [MERGED_INTO.get(c, c) for c in model.spec.columns]
    groups = sorted(set(names), key=names.index)
    index = np.array([groups.index(n) for n in names])
    merged = np.zeros((contrib.shape[0], len(groups)))
    np.add.at(merged.T, index, contrib.T)
    if model.pricing is not None:
        effect = sum(merged[:, groups.index(p)] for p in PRICING_FEATURES)
        merged += model.pricing.attribute(model.spec, X, groups, effect)
    for pricing in PRICING_FEATURES:
        merged[:, groups.index(pricing)] = -np.inf
    elderly = X[:, model.spec.columns.index("person_age")] >= ELDERLY_AGE
    merged[elderly, groups.index("person_age")] = -np.inf
    out: list[list[Reason]] = []
    for applicant, row in zip(decode(model.spec, X), merged, strict=True):
        reasons: list[Reason] = []
        for j in np.argsort(-row, kind="stable"):
            if len(reasons) == top_k or not row[j] > 0:
                break
            text = reason_text(groups[j], applicant)
            if text is not None:
                reasons.append(Reason(code=groups[j], text=text, contribution=round(float(row[j]), 4)))
        out.append(reasons)
    return out
