"""Issue 22, finding 1: how an applicant states loan_percent_income must not move their decision.

The server computes the ratio from loan_amnt and person_income (`creditrisk.applicants.schema`), so a
stated value is either refused (it disagrees beyond rounding) or has no effect; training learns the
same definition from every row (the loader for the base data, `training_frames` for logged rows).
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from creditrisk.applicants.schema import FEATURES, Applicant
from creditrisk.registry.validation import canary_applicants

SHIFT = 0.09  # the probe: inside the old ±0.10 tolerance, so today's API accepted it


def _profiles(clean: pd.DataFrame, n: int = 150) -> list[dict[str, Any]]:
    """Real profiles whose ratio leaves room for the probe on both sides (as the issue chose them)."""
    ratio = clean["loan_amnt"] / clean["person_income"]
    picked = clean[(ratio >= 0.12) & (ratio <= 0.9)][FEATURES].dropna().sample(n, random_state=22)
    rows = picked.to_dict("records")
    return [{k: (int(v) if k == "person_age" else v) for k, v in r.items()} for r in rows]


def _decide(model: Any, body: dict[str, Any]) -> int | None:
    """The decision the API would make for `body` (None: refused with a 422)."""
    try:
        row = Applicant(**body).to_row()
    except ValidationError:
        return None
    return int(model.predict(model.score_rows([row]))[0])


@pytest.mark.parametrize("shift", [-SHIFT, +SHIFT], ids=["understated", "overstated"])
def test_a_stated_ratio_moves_no_decision(champion, base_data, shift: float) -> None:
    model = champion.model
    moved = refused = 0
    profiles = _profiles(base_data[1])
    for body in profiles:
        ratio = body["loan_amnt"] / body["person_income"]
        honest = _decide(model, {**body, "loan_percent_income": round(ratio, 2)})
        got = _decide(model, {**body, "loan_percent_income": round(ratio + shift, 2)})
        refused += got is None
        moved += got is not None and got != honest
    assert moved == 0, f"{moved} of {len(profiles)} decisions moved by stating the ratio {shift:+.2f} off"
    assert refused == len(profiles)  # 0.09 off is beyond any rounding: the field is refused, not ignored


def test_training_learns_the_servers_ratio_also_from_requests_logged_before_it_computed_it(base_data) -> None:
    """Logged rows state what the model saw (the swap check rescores them as logged); training does not."""
    from creditrisk.applicants.schema import loan_percent_income
    from creditrisk.training.retraining import training_frames

    raw, clean = base_data
    logged = clean.head(60).assign(loan_percent_income=0.99)  # as applicants once stated it
    kept, learned = training_frames(raw, clean.head(100), logged, production_weight=2.0)
    server = loan_percent_income(learned["loan_amnt"], learned["person_income"])
    assert learned["loan_percent_income"].tolist() == server.tolist() and len(learned) == 160
    assert (kept["loan_percent_income"].tail(60) == 0.99).all()  # the raw record keeps what was sent


def test_every_recorded_canary_score_stays_valid_so_every_rollback_target_passes_the_gate() -> None:
    """The gate rescoring a version's canary applicants gets what was recorded at training only if
    their stated ratio is the server's: it is, so no registered version stops being a rollback target."""
    from creditrisk.applicants.schema import loan_percent_income

    for row in canary_applicants():
        assert row["loan_percent_income"] == loan_percent_income(row["loan_amnt"], row["person_income"])
