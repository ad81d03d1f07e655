"""The MLflow pyfunc face of a `CreditModel`, for `mlflow.pyfunc.load_model` and batch users.

Serving does not go through pyfunc (it loads the booster directly from the same artifact folder,
see `registry.Registry.load`), so both read the identical files: the booster, the feature spec and
the threshold.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from creditrisk.model.credit_model import CreditModel, decision_names

ARTIFACT_KEY = "credit_model"


def predict_frame(model: CreditModel, df: pd.DataFrame) -> pd.DataFrame:
    proba = model.score_frame(df)
    pred = model.predict(proba)
    return pd.DataFrame({"probability_of_default": proba, "prediction": pred,
                         "decision": decision_names(pred)})


class CreditRiskPyfunc(PythonModel):
    """Input: the 11 applicant fields; output: probability_of_default, prediction, decision."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model = CreditModel.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict_frame(self.model, model_input)
