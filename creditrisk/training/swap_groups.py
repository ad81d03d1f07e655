"""How a model change moves approval by group, and when that is a fair-lending regression.

The rule (`creditrisk.registry.swap_rule.SwapRule`, part of the deployment's change policy) says
when a movement is a regression: an age band's (a prohibited basis) routes the change to a person,
home ownership's is a warning. Proxy analysis of race or sex (BISG) is out of scope.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from creditrisk.model.fairness import group_labels
from creditrisk.registry.swap_rule import PROHIBITED, SwapRule, describe_group


@dataclass(frozen=True)
class GroupChange:
    """One group's approval rate and four-fifths ratio before and after the change."""

    attribute: str
    group: str
    rows: int
    approval_before: float
    approval_after: float
    ratio_before: float  # approval rate / the attribute's highest among groups of enough rows
    ratio_after: float
    noise: bool  # fewer rows than the rule judges
    regression: bool  # a fair-lending regression (prohibited basis)
    warning: bool  # the same movement on an attribute that is not a prohibited basis

    @property
    def change_points(self) -> float:
        return 100 * (self.approval_after - self.approval_before)

    @property
    def flag(self) -> str:
        """What the table marks the group with: REGRESSION, warning, noise or nothing."""
        for name, on in (("REGRESSION", self.regression), ("warning", self.warning), ("noise", self.noise)):
            if on:
                return name
        return ""

    def describe(self) -> str:
        return describe_group(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change_points": self.change_points}


def _ratios(rates: dict[str, float], sizes: dict[str, int], min_rows: int) -> dict[str, float]:
    big = [rates[g] for g in rates if sizes[g] >= min_rows] or list(rates.values())
    top = max(big) if big else math.nan
    return {g: (r / top if top else math.nan) for g, r in rates.items()}


def group_changes(frame: pd.DataFrame, champion_denied: np.ndarray, challenger_denied: np.ndarray,
                  rule: SwapRule) -> list[GroupChange]:
    """Approval before and after for each age band and home ownership group present in `frame`."""
    before, after = ~np.asarray(champion_denied, bool), ~np.asarray(challenger_denied, bool)
    out: list[GroupChange] = []
    for attribute, labels in group_labels(frame).items():
        groups = [g for g in pd.unique(labels) if g]
        masks = {g: (labels == g).to_numpy() for g in sorted(groups)}
        sizes = {g: int(m.sum()) for g, m in masks.items()}
        rb = _ratios({g: float(before[m].mean()) for g, m in masks.items()}, sizes, rule.min_group_rows)
        ra = _ratios({g: float(after[m].mean()) for g, m in masks.items()}, sizes, rule.min_group_rows)
        for g, m in masks.items():
            noise = sizes[g] < rule.min_group_rows
            worse = not noise and rule.worse(rb[g], ra[g])
            out.append(GroupChange(attribute, g, sizes[g], float(before[m].mean()), float(after[m].mean()),
                                   rb[g], ra[g], noise, worse and attribute in PROHIBITED,
                                   worse and attribute not in PROHIBITED))
    return out
