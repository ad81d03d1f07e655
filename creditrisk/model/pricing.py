"""The lender's pricing (loan grade, interest rate) credited back to the applicant's characteristics.

Grade and rate are the lender's own pricing of the risk, not characteristics of the applicant: a
notice saying "your grade is D" explains nothing. So they are never reasons; where they raised an
applicant's probability of default, that rise is credited to the characteristics that predict it.
At training, a least-squares fit explains the pricing effect (the sum of grade's and rate's
contributions) by the applicant's characteristics (numbers as given, a missing one at its
training median; categories one-hot), centred on the training means; a characteristic's term is
its coefficients times its centred values. An applicant's actual rise is shared among the
characteristics whose term is positive, in proportion to it, each getting at most its own term
and all together at most the rise: never more than the characteristic predicts, nor more than
the pricing did. What they do not predict (the lender's own information; R² is stored and shown
on the model card) is credited to nobody. Stored as JSON in the model artifact: no pickle.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from creditrisk.model.features import DERIVED, NOMINAL, FeatureSpec

# The lender's own pricing of the risk: never a reason; its effect is credited to the characteristics
PRICING_FEATURES = ("loan_grade", "loan_int_rate")

PRICING_FILE = "pricing_attribution.json"
SOURCE_OF = {"loan_to_income": "loan_percent_income"}  # the derived column counts as the field it restates


@dataclass(frozen=True)
class PricingAttribution:
    """Coefficients of the pricing effect on the characteristics' design columns."""

    columns: list[str]  # design columns: "<field>" or "<field>=<code>"
    fields: list[str]  # the applicant field each design column belongs to
    mean: list[float]
    fill: list[float]  # value used for a missing number (training median)
    beta: list[float]
    r2: float  # share of the pricing effect's variance the characteristics explain (training rows)

    @staticmethod
    def design_columns(spec: FeatureSpec) -> tuple[list[str], list[str]]:
        cols, fields = [], []
        for c in spec.columns:
            if c in PRICING_FEATURES:
                continue
            source = SOURCE_OF.get(c, c) if c in DERIVED else c
            names = [f"{c}={k}" for k in spec.codes[c]] if c in NOMINAL else [c]
            cols += names
            fields += [source] * len(names)
        return cols, fields

    @staticmethod
    def design(spec: FeatureSpec, X: np.ndarray) -> np.ndarray:
        """The characteristics of encoded rows `X` as design columns (missing numbers stay NaN)."""
        parts = []
        for j, c in enumerate(spec.columns):
            if c in PRICING_FEATURES:
                continue
            if c in NOMINAL:
                parts.append(np.stack([X[:, j] == code for code in spec.codes[c].values()], axis=1))
            else:
                parts.append(X[:, j:j + 1])
        return np.hstack(parts).astype(np.float64)

    @classmethod
    def fit(cls, spec: FeatureSpec, X: np.ndarray, contributions: np.ndarray) -> PricingAttribution:
        """Fit on training rows `X` and their per-column contributions (log-odds)."""
        target = sum(contributions[:, spec.columns.index(c)] for c in PRICING_FEATURES).astype(np.float64)
        D = cls.design(spec, X)
        fill = np.nanmedian(D, axis=0)
        D = np.where(np.isnan(D), fill, D)
        mean = D.mean(axis=0)
        centred = target - target.mean()
        beta, *_ = np.linalg.lstsq(D - mean, centred, rcond=None)  # centred: no intercept needed
        resid = centred - (D - mean) @ beta
        r2 = 1 - float(resid @ resid) / float(centred @ centred) if centred.any() else 0.0
        cols, fields = cls.design_columns(spec)
        return cls(cols, fields, mean.tolist(), fill.tolist(), beta.tolist(), r2)

    def terms(self, spec: FeatureSpec, X: np.ndarray, fields: list[str]) -> np.ndarray:
        """(rows, len(fields)): the pricing effect each field predicts for each row, in log-odds."""
        D = self.design(spec, X)
        D = np.where(np.isnan(D), np.asarray(self.fill), D)
        parts = (D - np.asarray(self.mean)) * np.asarray(self.beta)
        out = np.zeros((len(X), len(fields)))
        for k, field in enumerate(self.fields):
            out[:, fields.index(field)] += parts[:, k]
        return out

    def attribute(self, spec: FeatureSpec, X: np.ndarray, fields: list[str],
                  effect: np.ndarray) -> np.ndarray:
        """(rows, len(fields)): each field's credited share of the row's actual pricing `effect`."""
        predicted = np.clip(self.terms(spec, X, fields), 0, None)
        total = predicted.sum(axis=1)
        rise = np.clip(np.asarray(effect, dtype=np.float64), 0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(total > 0, np.minimum(1.0, rise / total), 0.0)
        return predicted * scale[:, None]

    def save(self, folder: Path) -> Path:
        path = Path(folder) / PRICING_FILE
        path.write_text(json.dumps(asdict(self)))
        return path

    @classmethod
    def load(cls, folder: Path) -> PricingAttribution | None:
        """The attribution saved with a model; None for a model trained before it existed."""
        path = Path(folder) / PRICING_FILE
        return cls(**json.loads(path.read_text())) if path.is_file() else None
