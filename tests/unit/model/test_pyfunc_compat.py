"""Versions registered before the core moved into feature packages still load through MLflow.

The fixture was saved by `mlflow.pyfunc.save_model` with the code as it stood before the move (a
3-tree model on synthetic applicants): its pickle names `creditrisk.pyfunc.CreditRiskPyfunc`.
"""
from __future__ import annotations

import json
import pickletools
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

FIXTURES = Path(__file__).parent / "fixtures"
OLD = FIXTURES / "pyfunc_before_packages"


def test_the_fixture_pickles_the_wrapper_by_its_old_path() -> None:
    """Guards the next test's premise: the artifact really names the module as it was."""
    ops = [arg for _, arg, _ in pickletools.genops((OLD / "python_model.pkl").read_bytes())]
    assert "creditrisk.pyfunc" in ops and "creditrisk.model.pyfunc" not in ops


def test_a_model_registered_before_the_move_loads_and_scores_as_it_did() -> None:
    model = mlflow.pyfunc.load_model(str(OLD))
    rows = pd.DataFrame(json.loads((FIXTURES / "pyfunc_before_packages_input.json").read_text()))
    expected = pd.DataFrame(json.loads((FIXTURES / "pyfunc_before_packages_expected.json").read_text()))
    got = model.predict(rows)
    assert list(got.columns) == ["probability_of_default", "prediction", "decision"]
    # JSON keeps the saved probabilities to ~15 digits; float32 scoring is exact to far less than this
    assert (got["probability_of_default"] - expected["probability_of_default"]).abs().max() < 1e-9
    assert got["decision"].tolist() == expected["decision"].tolist()
