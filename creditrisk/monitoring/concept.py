"""Concept drift: the champion ranks its recent applicants significantly worse than it did when it started.

Feature drift cannot see a change in how defaults follow the features. Labels can, late: the rule
compares the champion's realized AUC on its recent labelled rows with its realized AUC in its own
first weeks in service (its baseline). Not its training holdout: labelled production rows are the
approved applicants only, a population whose AUC is far below the holdout's, so only the same
kind of rows from the same model is a fair baseline. Both AUCs are estimates; the rule flags only
when the upper confidence bound of (recent − baseline), with DeLong variances of the two
independent samples, is below −margin, and only with at least `min_rows` labelled rows on each side.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from creditrisk.applicants.schema import LABEL

OK, NO_BASELINE, INSUFFICIENT = "ok", "no baseline", "insufficient labels"
POPULATION = "approved applicants served by the champion whose outcome was reported by the week's end"


@dataclass(frozen=True)
class ConceptRule:
    """The numbers of the rule, chosen together on bench/detection.py's weeks.

    20 seeds, 1,500 requests/week, outcomes of the approved 2-12 days late; among baselines of 2/3/4
    weeks, confidence 0.99/0.995/0.999 and margins 0/0.01/0.02: under `none` 0.10 false alarms per
    52 weeks (margin 0: 0.65, with up to 10 in one seed whose baseline came out high); `concept` at
    full magnitude found in all seeds, median 1 week after it began; at half magnitude in 80% within
    8 weeks (median 3.5). The full benchmark with these numbers: 0.30 false alarms per 52 weeks,
    concept found in 100% (median 1 week).
    """

    confidence: float = 0.99  # of the upper bound of (recent - baseline)
    margin: float = 0.01  # flagged when that bound is below -margin
    min_rows: int = 300  # labelled rows on each side
    baseline_weeks: int = 2  # a newly promoted champion can be judged after 2 weeks in service
    recent_weeks: int = 2


@dataclass(frozen=True)
class ConceptResult:
    """The verdict and what it rests on; `concept_drift` is False unless `status` is "ok"."""

    status: str
    concept_drift: bool
    reason: str
    baseline_auc: float = math.nan
    recent_auc: float = math.nan
    gap: float = math.nan  # recent minus baseline
    gap_upper: float = math.nan  # its upper confidence bound
    baseline_rows: int = 0
    recent_rows: int = 0
    baseline_window: tuple[datetime, datetime] | None = None
    recent_window: tuple[datetime, datetime] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain types for metadata; windows as ISO strings."""
        out = asdict(self)
        for k in ("baseline_window", "recent_window"):
            out[k] = " .. ".join(t.isoformat() for t in out[k]) if out[k] else ""
        return out


def auc_and_variance(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """ROC AUC and its DeLong variance, from mid-ranks (ties count half)."""
    y = np.asarray(y).astype(bool)
    p = np.asarray(p, dtype=float)
    pos, neg = p[y], p[~y]
    m, n = len(pos), len(neg)
    ranks = rankdata(p)
    v10 = (ranks[y] - rankdata(pos)) / n  # per default: share of repayers scored below it
    v01 = 1 - (ranks[~y] - rankdata(neg)) / m  # per repayer: share of defaults scored above it
    return float(v10.mean()), float(v10.var(ddof=1) / m + v01.var(ddof=1) / n)


def as_utc(values: pd.Series) -> pd.Series:
    """Timestamps as UTC; a column that already is one is used as is (parsing 100k rows costs 100 ms)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values if str(values.dt.tz) == "UTC" else values.dt.tz_convert("UTC")
    return pd.to_datetime(values, utc=True)


def _known(labelled: pd.DataFrame, version: str, as_of: datetime) -> pd.DataFrame:
    """The version's labelled rows whose outcome was known at `as_of`."""
    ts, at = as_utc(labelled["ts"]), as_utc(labelled["reported_at"])
    keep = (labelled["model_version"].astype(str) == str(version)) & labelled[LABEL].notna() \
        & (ts < as_of) & (at < as_of)
    return labelled.loc[keep].assign(ts=ts[keep])


@dataclass(frozen=True)
class Service:
    """A version's labelled rows known at `as_of`: its first weeks in service, and its recent weeks."""

    baseline: pd.DataFrame
    recent: pd.DataFrame
    baseline_window: tuple[datetime, datetime]
    recent_window: tuple[datetime, datetime]


def split_service(labelled: pd.DataFrame, version: str, as_of: datetime,
                  rule: ConceptRule | None = None) -> Service | None:
    """Baseline and recent rows of `version` (recent rows start after the baseline ends); None if none."""
    rule = rule or ConceptRule()
    rows = _known(labelled, version, as_of)
    if rows.empty:
        return None
    first = rows["ts"].min().normalize().to_pydatetime(warn=False)
    first -= timedelta(days=first.weekday())  # whole weeks: its first week in service from its Monday
    base_end = first + timedelta(weeks=rule.baseline_weeks)
    recent_start = max(as_of - timedelta(weeks=rule.recent_weeks), base_end)
    return Service(rows[rows["ts"] < base_end], rows[rows["ts"] >= recent_start], (first, base_end),
                   (recent_start, as_of))


def _usable(rows: pd.DataFrame, rule: ConceptRule) -> str | None:
    """Why these rows cannot carry an AUC, or None."""
    if len(rows) < rule.min_rows:
        return f"{len(rows)} labelled rows (need {rule.min_rows})"
    if rows[LABEL].nunique() < 2:
        return "labels of a single class"
    return None


def concept_check(labelled: pd.DataFrame, version: str, as_of: datetime,
                  rule: ConceptRule | None = None) -> ConceptResult:
    """Is `version` significantly worse on its recent labelled rows than in its first weeks in service?

    `labelled` holds request rows with ts, model_version, probability (the served score),
    loan_status and reported_at; rows of other versions, without outcome, or reported after
    `as_of` are ignored.
    """
    rule = rule or ConceptRule()
    return judge(split_service(labelled, version, as_of, rule), version, rule)


def judge(service: Service | None, version: str, rule: ConceptRule) -> ConceptResult:
    """The rule on rows already split by `split_service` (None: the version has no labelled row)."""
    if service is None:
        return ConceptResult(NO_BASELINE, False, f"no labelled rows served by version {version} yet")
    baseline, recent = service.baseline, service.recent
    recent_start = service.recent_window[0]
    windows = {"baseline_window": service.baseline_window, "recent_window": service.recent_window}
    if (why := _usable(baseline, rule)) is not None:
        return ConceptResult(NO_BASELINE, False, f"baseline of version {version} (its first "
                             f"{rule.baseline_weeks} weeks in service): {why}",
                             baseline_rows=len(baseline), recent_rows=len(recent), **windows)
    b_auc, b_var = auc_and_variance(baseline[LABEL].to_numpy(int), baseline["probability"].to_numpy(float))
    if (why := _usable(recent, rule)) is not None:
        return ConceptResult(INSUFFICIENT, False, f"recent rows since {recent_start:%Y-%m-%d}: {why}",
                             baseline_auc=b_auc, baseline_rows=len(baseline), recent_rows=len(recent),
                             **windows)
    r_auc, r_var = auc_and_variance(recent[LABEL].to_numpy(int), recent["probability"].to_numpy(float))
    gap = r_auc - b_auc
    upper = gap + float(norm.ppf(rule.confidence)) * math.sqrt(b_var + r_var)
    drift = upper < -rule.margin
    pct = f"{rule.confidence:.1%}".rstrip("0").rstrip(".")
    reason = (f"realized AUC {r_auc:.3f} on {len(recent)} recent labelled rows vs {b_auc:.3f} on "
              f"{len(baseline)} in its first weeks: {gap:+.3f}, {pct} upper bound {upper:+.3f} "
              + (f"below its baseline by more than {rule.margin:.3f}" if drift else
                 f"not significantly below its baseline (margin {rule.margin:.3f})"))
    return ConceptResult(OK, drift, reason, b_auc, r_auc, gap, upper, len(baseline), len(recent), **windows)
