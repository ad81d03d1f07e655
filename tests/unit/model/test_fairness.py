"""The age rule as a gate that can fail, and group outcomes on rows whose answers are known by hand."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from model_changes import changes_for

from creditrisk.applicants.data import load_base_data
from creditrisk.applicants.schema import FEATURES
from creditrisk.model.credit_model import CreditModel, TrainConfig, train
from creditrisk.model.fairness import age_rule, check_age_rule, group_outcomes
from creditrisk.registry.changes import ValidationFailed
from creditrisk.training.lineage import DataReference
from creditrisk.training.retraining import train_candidate

UNCONSTRAINED = TrainConfig(num_rounds=40, max_depth=4, age_monotone=0, nthread=1)  # small: one thread


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    raw, clean, _ = load_base_data(None, rows=4_000, seed=5)
    return raw, clean


@pytest.fixture(scope="module")
def free(data) -> CreditModel:
    """A model trained without the monotone age constraint."""
    return train(data[1], UNCONSTRAINED)


def test_the_check_catches_an_unconstrained_model_and_passes_the_constrained_one(data, free) -> None:
    _, clean = data
    ruled = train(clean, TrainConfig(num_rounds=40, max_depth=4, nthread=1))
    broken = check_age_rule(free, clean)
    assert [r.population for r in broken] == ["holdout profiles", "synthetic profiles"]
    assert all(r.violations > 0 and r.worst_gap > 1e-3 and r.worst_age >= 62 for r in broken)
    assert "score worse at an age of 62+" in broken[0].problems()[0]
    assert all(r.passed and r.worst_gap <= 1e-7 for r in check_age_rule(ruled, clean))


def test_a_profile_with_no_valid_age_under_62_cannot_break_the_rule(data, free) -> None:
    """48 years of credit history: valid only from 62, so there is no younger age to be worse than."""
    _, clean = data
    old_history = clean[FEATURES].head(40).assign(cb_person_cred_hist_length=48.0, person_emp_length=2.0)
    assert age_rule(free, old_history, "test").violations == 0


def test_a_model_breaking_the_age_rule_never_becomes_challenger(data, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidate gate rejects it with the rule named in the trail, and admission refuses it too."""
    changes = changes_for(f"sqlite:///{tmp_path / 'mlflow.db'}", CREDITRISK_MIN_CANDIDATE_AUC="0.5",
                          CREDITRISK_MAX_CANDIDATE_BRIER="0.5")  # no champion: it never gets there
    monkeypatch.setattr("creditrisk.training.run.TrainConfig", lambda: UNCONSTRAINED)
    empty = data[1].head(0)
    cand = train_candidate(changes, data, empty, production_weight=3.0,
                           run_name="unruled", data=DataReference("test"), actor="dagster", reason="test")
    assert cand.gates["quality_floor"] == [] and not cand.passed
    assert "Reg B age rule broken" in cand.gates["age_rule"][0]
    assert any("Reg B age rule broken" in p for p in cand.gates["validation"])  # the canaries catch it too
    assert changes.registry.version(cand.version).tags["state"] == "rejected"
    reject = changes.trail.events()[-1]
    assert (reject["action"], reject["version"]) == ("reject", cand.version)
    assert "age_rule: Reg B age rule broken" in reject["reason"]
    with pytest.raises(ValidationFailed, match="Reg B age rule broken"):
        changes.admit_challenger(cand.version, actor="someone",
                                 floor_metrics={"roc_auc": 0.95, "brier": 0.05},
                                 age_rule=[])
    refusal = changes.trail.events()[-1]
    assert refusal["action"] == "refuse" and "Reg B age rule broken" in refusal["reason"]
    assert changes.challenger() is None



def test_group_outcomes_by_hand() -> None:
    frame = pd.DataFrame({"person_age": [20, 21, 30, 31, 40, 70],
                          "person_home_ownership": ["RENT", "RENT", "OWN", "OWN", "RENT", "OWN"]})
    denied = np.array([1, 0, 0, 0, 1, 0])
    proba = np.array([0.9, 0.2, 0.1, 0.3, 0.6, 0.2])
    y = np.array([1, np.nan, 0, 1, 0, np.nan])  # two unlabelled rows
    rows = {(r.attribute, r.group): r for r in group_outcomes(frame, denied, proba, y)}
    assert list(rows) == [("age band", b) for b in ("18-24", "25-34", "35-61", "62+")] + \
        [("home ownership", h) for h in ("RENT", "OWN")]  # empty groups are left out
    young = rows[("age band", "18-24")]
    assert (young.rows, young.approval_rate, young.labelled_rows) == (2, 0.5, 1)
    assert (young.observed_default_rate, young.predicted_default_rate) == (1.0, 0.9)  # labelled row only
    assert (young.recall_default, young.precision_default) == (1.0, 1.0)
    mid = rows[("age band", "25-34")]
    assert mid.recall_default == 0.0 and np.isnan(mid.precision_default)  # no denial: precision undefined
    rent, own = rows[("home ownership", "RENT")], rows[("home ownership", "OWN")]
    assert rent.approval_rate == pytest.approx(1 / 3) and own.approval_rate == 1.0
    # every group is under MIN_GROUP_ROWS, so the reference is the most approved of all of them
    assert rent.impact_ratio == pytest.approx(1 / 3) and rent.four_fifths_warning
    assert not own.four_fifths_warning
    assert rows[("age band", "62+")].small and np.isnan(rows[("age band", "62+")].observed_default_rate)
