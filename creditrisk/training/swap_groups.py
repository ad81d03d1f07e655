"""How a model change moves approval by group, and when that is a fair-lending regression.

Age is a prohibited basis under ECOA (Regulation B): an age band whose four-fifths ratio falls below
0.8, or drops further by more than `max_ratio_drop` when already below it, is a regression that a
person must decide on. Home ownership is not a prohibited basis: the same movement is a warning.
Proxy analysis of race or sex (BISG) is out of scope.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from creditrisk.model.fairness import FOUR_FIFTHS, MIN_GROUP_ROWS, group_labels

PROHIBITED = ("age band",)  # attributes whose regression routes the change to a person


@dataclass(frozen=True)
class SwapRule:
    """The numbers of the swap-set analysis and of the guards that route a change to a person."""

    min_group_rows: int = MIN_GROUP_ROWS  # smaller groups are shown, marked as noise, never judged
    # An age band already below four-fifths may lose at most this much more of its ratio: a setting
    # of policy, not a measurement (the issue that asked for the rule proposes 0.05).
    max_ratio_drop: float = 0.05
    # More than this share of applicants changing decision is a material change (a policy setting).
    max_swap_share: float = 0.10
    # Score bands of the migration matrix (probability of default): the served threshold of 0.40
    # is an edge, so a band never straddles a decision.
    band_edges: tuple[float, ...] = (0.05, 0.10, 0.20, 0.40, 0.60)
    # Applicants rescored: the last two weeks (the 10-day evaluation window lies inside), about
    # 3,000 at the demo's volume; a bank's week is larger, and 100,000 rescore in ~3.5 s.
    weeks: int = 2

    def window(self, evaluation_start: datetime, as_of: datetime) -> tuple[datetime, datetime]:
        """The applicants to rescore: the last `weeks` before `as_of`, and the evaluation window."""
        return min(evaluation_start, as_of - timedelta(weeks=self.weeks)), as_of


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
        return (f"{self.attribute} {self.group}: approval {self.approval_before:.1%} -> "
                f"{self.approval_after:.1%}, four-fifths ratio {self.ratio_before:.2f} -> "
                f"{self.ratio_after:.2f} on {self.rows} rows")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change_points": self.change_points}


def _ratios(rates: dict[str, float], sizes: dict[str, int], min_rows: int) -> dict[str, float]:
    big = [rates[g] for g in rates if sizes[g] >= min_rows] or list(rates.values())
    top = max(big) if big else math.nan
    return {g: (r / top if top else math.nan) for g, r in rates.items()}


def _worse(before: float, after: float, rule: SwapRule) -> bool:
    """A ratio that falls below four-fifths, or falls further than allowed while below it."""
    if math.isnan(before) or math.isnan(after):
        return False
    return (before >= FOUR_FIFTHS > after) or (before < FOUR_FIFTHS and before - after > rule.max_ratio_drop)


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
            worse = not noise and _worse(rb[g], ra[g], rule)
            out.append(GroupChange(attribute, g, sizes[g], float(before[m].mean()), float(after[m].mean()),
                                   rb[g], ra[g], noise, worse and attribute in PROHIBITED,
                                   worse and attribute not in PROHIBITED))
    return out
