"""Whose decision a model change changes: the swap-set analysis on every logged applicant.

Both models rescore the same applicants, each at its own served threshold. Swap-ins (approved by
the challenger, denied by the champion) have no outcome and never will under the champion: their
risk is a reject-inference *assumption*, shown as the range between the two models' calibrated
probabilities; under concept drift (when retrains happen) both ends can be wrong. Swap-outs were
approved by the champion, so their matured outcomes are a measurement. The same sets at an equal
approval rate (the challenger's threshold moved to the champion's approval rate) separate a better
ranking from a change of risk appetite.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from creditrisk.model.calibration import Calibration, fit_calibration
from creditrisk.model.credit_model import CreditModel
from creditrisk.registry.swap_rule import SwapRule
from creditrisk.training import swap_table
from creditrisk.training.swap_groups import GroupChange, group_changes
from creditrisk.training.swap_table import ASSUMPTION

RESCORE_TOLERANCE = 1e-6  # the log keeps the float32 score as float64: a re-score matches to rounding


class SwapError(ValueError):
    """The rescored champion disagrees with what the log says it answered: it is not the model judged."""


def check_rescore(request_ids: pd.Series, logged: np.ndarray, rescored: np.ndarray) -> None:
    """Raise SwapError naming the rows whose rescored champion probability differs from the logged one."""
    bad = np.flatnonzero(~np.isclose(np.asarray(logged, float), rescored, rtol=0, atol=RESCORE_TOLERANCE))
    if len(bad):
        ids = ", ".join(map(str, request_ids.iloc[bad[:5]]))
        raise SwapError(f"{len(bad)} of {len(logged)} logged probabilities differ from the champion's "
                        f"rescore (e.g. request ids {ids}): the logged model is not the one being judged")


def rescore(rows: pd.DataFrame, champion: CreditModel, challenger: CreditModel,
            champion_version: str) -> tuple[np.ndarray, np.ndarray]:
    """Both models' probabilities for the logged applicants; on the rows the champion answered, its
    rescore must equal the logged probability (else SwapError)."""
    pc, ph = champion.score_frame(rows), challenger.score_frame(rows)
    served = (rows["model_version"].astype(str) == str(champion_version)).to_numpy()
    check_rescore(rows["request_id"][served], rows["probability"].to_numpy(dtype=float)[served], pc[served])
    return pc, ph


def swap_sets(champion_denied: np.ndarray, challenger_denied: np.ndarray) -> dict[str, np.ndarray]:
    """Each row's set as boolean masks, keyed by SETS."""
    a, b = ~np.asarray(champion_denied, bool), ~np.asarray(challenger_denied, bool)
    return {"stay_approved": a & b, "stay_denied": ~a & ~b, "swap_in": ~a & b, "swap_out": a & ~b}


def equal_rate_threshold(champion_denied: np.ndarray, challenger_p: np.ndarray) -> float:
    """The challenger threshold that approves the champion's share of applicants (deny at p >= t)."""
    approval = 1 - float(np.mean(champion_denied))
    if approval <= 0:
        return 0.0
    ordered = np.sort(np.asarray(challenger_p, float))
    k = int(round(approval * len(ordered)))  # approve the k lowest probabilities
    return float(np.nextafter(ordered[k - 1], np.inf)) if k < len(ordered) else 1.0 + 1e-9


def migration(champion_p: np.ndarray, challenger_p: np.ndarray, edges: tuple[float, ...]) -> pd.DataFrame:
    """Counts by champion score band (rows) x challenger score band (columns)."""
    cuts = [0.0, *edges, 1.0 + 1e-9]
    labels = [f"{lo:.2f}-{min(hi, 1.0):.2f}" for lo, hi in zip(cuts, cuts[1:], strict=False)]
    band = lambda p: pd.Categorical(pd.cut(np.asarray(p, float), cuts, right=False, labels=labels),  # noqa: E731
                                    categories=labels)
    return pd.crosstab(band(champion_p), band(challenger_p), dropna=False).rename_axis(
        index="champion", columns="challenger")


@dataclass(frozen=True)
class SwapReport:
    """The swap table, its migration matrix, the equal-approval-rate view and the changes by group."""

    rows: int
    counts: dict[str, int]
    approval_before: float
    approval_after: float
    swap_out_labelled: int  # swap-outs with a matured outcome
    swap_out_default_rate: float  # measured on those; NaN without any
    swap_in_risk: tuple[float, float]  # (low, high) mean calibrated probability of default; assumed
    equal_rate_threshold: float
    equal_rate_counts: dict[str, int]
    matrix: pd.DataFrame
    groups: list[GroupChange] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)  # why a person must decide; empty when none

    @property
    def swap_share(self) -> float:
        return (self.counts["swap_in"] + self.counts["swap_out"]) / self.rows if self.rows else 0.0

    @property
    def swap_out_coverage(self) -> float:
        return self.swap_out_labelled / self.counts["swap_out"] if self.counts["swap_out"] else float("nan")

    def line(self) -> str:
        """One line for a timeline or a log."""
        return swap_table.line(self.as_dict())

    def markdown(self) -> str:
        """The swap table and the groups, for Dagster's metadata."""
        return swap_table.markdown(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (the matrix as nested counts), for an audit event or metadata."""
        out = {k: v for k, v in asdict(self).items() if k not in ("matrix", "groups")}
        out |= {"swap_share": self.swap_share, "swap_out_coverage": self.swap_out_coverage,
                "assumption": ASSUMPTION, "groups": [g.as_dict() for g in self.groups],
                "matrix": {str(i): {str(c): int(v) for c, v in row.items()}
                           for i, row in self.matrix.iterrows()}}
        return out


def _mean(p: np.ndarray, mask: np.ndarray) -> float:
    return float(p[mask].mean()) if mask.any() else float("nan")


def analyse(frame: pd.DataFrame, champion_p: np.ndarray, challenger_p: np.ndarray,
            thresholds: tuple[float, float], y: np.ndarray | None = None, rule: SwapRule | None = None,
            calibrations: tuple[Calibration, Calibration] | None = None) -> SwapReport:
    """The swap-set analysis of `frame`'s applicants; `y` is 0/1 where a matured outcome is known, else NaN.

    Calibrations default to Platt fits on the labelled rows, as the label-free estimate fits the
    champion (the identity below its minimum of rows).
    """
    rule = rule or SwapRule()
    pc, ph = np.asarray(champion_p, float), np.asarray(challenger_p, float)
    y = np.full(len(pc), np.nan) if y is None else np.asarray(y, float)
    dc, dh = pc >= thresholds[0], ph >= thresholds[1]
    sets = swap_sets(dc, dh)
    lab = ~np.isnan(y)
    if calibrations is None:
        calibrations = (fit_calibration(y[lab], pc[lab]), fit_calibration(y[lab], ph[lab]))
    ends = [_mean(cal.apply(p), sets["swap_in"]) for cal, p in zip(calibrations, (pc, ph), strict=True)]
    out_lab = sets["swap_out"] & lab
    t_eq = equal_rate_threshold(dc, ph)
    eq = swap_sets(dc, ph >= t_eq)
    groups = group_changes(frame, dc, dh, rule)
    report = SwapReport(
        rows=len(pc), counts={k: int(m.sum()) for k, m in sets.items()},
        approval_before=float(1 - dc.mean()) if len(pc) else float("nan"),
        approval_after=float(1 - dh.mean()) if len(pc) else float("nan"),
        swap_out_labelled=int(out_lab.sum()), swap_out_default_rate=_mean(y, out_lab),
        swap_in_risk=(min(ends), max(ends)), equal_rate_threshold=t_eq,
        equal_rate_counts={k: int(m.sum()) for k, m in eq.items()},
        matrix=migration(pc, ph, rule.band_edges), groups=groups)
    return replace(report, guards=rule.problems(report.as_dict()))
