"""Fair lending: Regulation B's age rule, checked by scoring, and outcomes by group.

Age rule (12 CFR 1002.6(b)(2); "negative factor", 1002.2(v)): for every profile with its other
fields fixed, the probability of default at any age 62-100 must be <= its minimum over the ages
18-61 at which the profile is valid (employment and credit history no longer than age - 14). It
is verified by scoring each profile at every age the schema accepts, trusting nothing about how
the model was trained, on holdout rows and on a fixed synthetic grid the data may not cover.

Group outcomes, per age band and home ownership: the approval rate on every row and its ratio to
the attribute's most approved group (the four-fifths rule, a warning); on the labelled rows, the
observed against the predicted default rate (calibration) and default recall and precision at the
threshold each row was decided with.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from creditrisk.applicants.schema import CATEGORIES, FEATURES, MIN_WORKING_AGE
from creditrisk.model.credit_model import CreditModel

# Reg B (12 CFR 1002.2(o)): "elderly" means aged 62 or older; such an applicant may never be
# assigned a negative factor or value for their age (1002.6(b)(2)).
ELDERLY_AGE = 62
AGE_RANGE = (18, 100)  # every age the schema accepts is checked, not a sample of them
AGE_RULE_TOLERANCE = 1e-7  # float32 rounding of the score; an unconstrained model breaks it by up to 0.5
AGE_RULE_HOLDOUT_PROFILES = 500  # holdout rows checked at every age (~0.5 s for 800 trees)
AGE_RULE_SYNTHETIC_PROFILES = 256  # plus synthetic applicants, a grid the data may not cover
AGE_RULE_SEED = 1002  # the synthetic grid is fixed: a version is judged on the same profiles as another
# Group outcomes: age bands (the last is Reg B's elderly) and the four-fifths rule of thumb, reported
# as a warning (never a gate): a band approved at < 80% of the most approved band's rate.
AGE_BANDS = (("18-24", 18, 24), ("25-34", 25, 34), ("35-61", 35, 61), ("62+", 62, 100))
FOUR_FIFTHS = 0.8
MIN_GROUP_ROWS = 30  # below this a group's rates are shown but flagged: the real 62+ holdout band has 13

AGES = np.arange(AGE_RANGE[0], AGE_RANGE[1] + 1)
HOLDOUT, SYNTHETIC = "holdout profiles", "synthetic profiles"


@dataclass(frozen=True)
class AgeRuleResult:
    """The age rule on one population of profiles: how many break it, and by how much at worst."""

    population: str
    profiles: int
    violations: int
    worst_gap: float  # largest (worst 62+ score - best valid under-62 score); <= 0 when it holds
    worst_age: int  # the 62+ age of that largest gap
    tolerance: float = AGE_RULE_TOLERANCE

    @property
    def passed(self) -> bool:
        return self.violations == 0

    @property
    def share(self) -> float:
        return self.violations / self.profiles if self.profiles else 0.0

    def problems(self) -> list[str]:
        if self.passed:
            return []
        return [f"Reg B age rule broken: {self.violations} of {self.profiles} {self.population} score worse "
                f"at an age of {ELDERLY_AGE}+ than at their most favoured age under {ELDERLY_AGE} (by up "
                f"to {self.worst_gap:.4f} in probability of default, at age {self.worst_age})"]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "share": self.share}


def age_rule(model: CreditModel, profiles: pd.DataFrame, population: str) -> AgeRuleResult:
    """Score every profile at every age 18-100 and compare its 62+ scores with its best valid younger one."""
    n = len(profiles)
    X = np.repeat(model.spec.encode_frame(profiles[FEATURES]), len(AGES), axis=0)
    X[:, model.spec.columns.index("person_age")] = np.tile(AGES, n)
    p = model.predict_proba(X).reshape(n, len(AGES))
    held = profiles[["person_emp_length", "cb_person_cred_hist_length"]].fillna(0).max(axis=1).to_numpy()
    valid_young = (AGES[None, :] >= held[:, None] + MIN_WORKING_AGE) & (AGES[None, :] < ELDERLY_AGE)
    best_young = np.where(valid_young, p, np.inf).min(axis=1)
    elderly = AGES >= ELDERLY_AGE
    gaps = p[:, elderly] - best_young[:, None]  # -inf where no younger age is valid: nothing to compare
    worst = np.unravel_index(np.argmax(gaps), gaps.shape) if n else (0, 0)
    worst_gap = float(gaps[worst]) if n and np.isfinite(gaps[worst]) else 0.0
    return AgeRuleResult(population, n, int((gaps.max(axis=1, initial=-np.inf) > AGE_RULE_TOLERANCE).sum()),
                         worst_gap, int(AGES[elderly][worst[1]]))


def synthetic_profiles() -> pd.DataFrame:
    """The fixed synthetic grid: seeded generated applicants (no real person's data)."""
    from creditrisk.applicants.synth import generate  # the generator is only needed here and for canaries

    return generate(AGE_RULE_SYNTHETIC_PROFILES, seed=AGE_RULE_SEED)[FEATURES].reset_index(drop=True)


def check_age_rule(model: CreditModel, holdout: pd.DataFrame | None = None) -> list[AgeRuleResult]:
    """The rule on a seeded sample of `holdout` (when given) and on the synthetic grid."""
    out = []
    if holdout is not None and len(holdout):
        sample = holdout.sample(min(len(holdout), AGE_RULE_HOLDOUT_PROFILES), random_state=AGE_RULE_SEED)
        out.append(age_rule(model, sample.reset_index(drop=True), HOLDOUT))
    out.append(age_rule(model, synthetic_profiles(), SYNTHETIC))
    return out


@dataclass(frozen=True)
class GroupRow:
    """One group's outcomes; rates are NaN where their population is empty."""

    attribute: str
    group: str
    key: str  # metric-safe name, e.g. "age.62_plus"
    rows: int
    approval_rate: float
    impact_ratio: float  # approval rate / the attribute's highest (groups of >= MIN_GROUP_ROWS rows)
    labelled_rows: int
    observed_default_rate: float
    predicted_default_rate: float
    recall_default: float
    precision_default: float

    @property
    def four_fifths_warning(self) -> bool:
        return bool(self.impact_ratio < FOUR_FIFTHS)

    @property
    def small(self) -> bool:
        return self.rows < MIN_GROUP_ROWS

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "four_fifths_warning": self.four_fifths_warning, "small": self.small}


def group_labels(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """attribute -> each row's group: age band, home ownership."""
    age = frame["person_age"].to_numpy()
    bands = np.select([(age >= lo) & (age <= hi) for _, lo, hi in AGE_BANDS], [b for b, *_ in AGE_BANDS], "")
    return {"age band": pd.Series(bands, index=frame.index),
            "home ownership": frame["person_home_ownership"].astype(str)}


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def group_outcomes(frame: pd.DataFrame, denied: np.ndarray, proba: np.ndarray,
                   y: np.ndarray | None = None) -> list[GroupRow]:
    """Outcomes per group: `denied` and `proba` for every row of `frame`; `y` 0/1, NaN where unlabelled."""
    denied = np.asarray(denied, dtype=bool)
    proba = np.asarray(proba, dtype=float)
    y = np.full(len(frame), np.nan) if y is None else np.asarray(y, dtype=float)
    order = {"age band": [b for b, _, _ in AGE_BANDS], "home ownership": CATEGORIES["person_home_ownership"]}
    out: list[GroupRow] = []
    for attribute, labels in group_labels(frame).items():
        rows = []
        for group in order[attribute]:
            m = (labels == group).to_numpy()
            if not m.any():
                continue
            lab = m & ~np.isnan(y)
            yl, dl = y[lab] == 1, denied[lab]
            rows.append(dict(attribute=attribute, group=group,
                             key=f"{attribute.split()[0]}.{group.replace('+', '_plus')}",
                             rows=int(m.sum()),
                             approval_rate=float(1 - denied[m].mean()), labelled_rows=int(lab.sum()),
                             observed_default_rate=float(yl.mean()) if lab.any() else float("nan"),
                             predicted_default_rate=float(proba[lab].mean()) if lab.any() else float("nan"),
                             recall_default=_ratio((yl & dl).sum(), yl.sum()),
                             precision_default=_ratio((yl & dl).sum(), dl.sum())))
        # The reference is the most approved group large enough to mean something (else any group)
        big = [r for r in rows if r["rows"] >= MIN_GROUP_ROWS] or rows
        top = max(r["approval_rate"] for r in big)
        out += [GroupRow(**r, impact_ratio=_ratio(r["approval_rate"], top)) for r in rows]
    return out


GROUP_FIGURES = ("approval_rate", "impact_ratio", "observed_default_rate", "predicted_default_rate",
                 "recall_default", "precision_default")


def group_metrics(rows: list[GroupRow]) -> dict[str, float]:
    """Flat metrics `group.<key>.<figure>` (finite values only), e.g. for an MLflow run."""
    return {f"group.{r.key}.{f}": float(getattr(r, f)) for r in rows
            for f in ("rows", "labelled_rows", *GROUP_FIGURES)
            if np.isfinite(float(getattr(r, f)))}
