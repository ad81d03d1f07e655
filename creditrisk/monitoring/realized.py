"""The realized-performance alert: the served scores' AUC on the outcomes reported for recent weeks,
and the outcome feed it depends on (a feed that stops must alert, not leave the rule unjudged)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from creditrisk.applicants.schema import LABEL
from creditrisk.model.credit_model import DECISION_APPROVED

POPULATION = ("requests of the window whose outcome was reported: approved applicants only "
              "(a denied applicant never has one)")


def realized_auc(labelled: pd.DataFrame) -> float:
    """The AUC of the logged probabilities against the reported outcomes; NaN without both classes."""
    y = labelled[LABEL].to_numpy(dtype="int64") if len(labelled) else np.array([], dtype="int64")
    if len(set(y)) < 2:
        return math.nan
    return float(roc_auc_score(y, labelled["probability"].to_numpy(dtype=float)))


@dataclass(frozen=True)
class RealizedResult:
    """What the rule found: the labelled rows it judged, their AUC, and whether that alerts."""

    labelled_rows: int
    auc: float  # NaN when there were too few labels to judge
    alert: bool
    reason: str
    served_versions: tuple[str, ...] = ()
    label_age_days: float = math.nan  # days from the newest outcome reported to the week's end

    @property
    def judged(self) -> bool:
        return not math.isnan(self.auc)


@dataclass(frozen=True)
class RealizedRule:
    """The served scores' AUC on the labelled rows of the last `weeks`, alerting below `min_auc`.

    Labelled rows are approved applicants only, a population ranked far worse than the holdout
    (median 0.79 vs 0.91). Under `none`, in bench/detection.py's simulation (20-40 seeds): 0.751 at
    the lowest of 1,040 four-week windows (~3,600 labelled rows); 0.740 at the lowest with ~1,200
    rows (2nd week of labels), but 0.666 with ~220 (1st week). In the demo on the real file (a
    champion trained on another population than it serves) an undrifted window of 1,232 rows read
    0.719, and full windows >= 0.72: so the alert needs `min_rows`, about two weeks of the approved.
    """

    min_auc: float = 0.72
    min_rows: int = 2_500
    weeks: int = 4
    # An approved applicant's outcome is due this long after the request: the demo's bank reports
    # within 2-12 days (`--label-delay uniform:2,12`). A real book reports months later (a default
    # is declared at 90 days past due): a deployment sets its own, or the feed checks never arm.
    label_due_days: int = 14
    # The newest outcome may be at most this old at the week's end while outcomes are due. The
    # demo's back office reports every day; a week with no report at all means the feed stopped.
    max_label_age_days: float = 7.0

    def __post_init__(self) -> None:
        """Refuse settings under which the feed checks could never arm (fail closed, at configuration)."""
        if self.label_due_days >= self.weeks * 7:  # an empty due window: `due` is 0 every week
            raise ValueError(f"label_due_days {self.label_due_days} >= the {self.weeks * 7}-day window: no "
                             "request of it is ever due, so a stopped outcome feed would never alert; "
                             "lengthen the window (performance_weeks) past the outcomes' due date")

    def window(self, as_of: datetime) -> tuple[datetime, datetime]:
        """The requests whose outcomes the rule reads: the last `weeks` before `as_of`."""
        return as_of - timedelta(weeks=self.weeks), as_of

    def due_window(self, as_of: datetime) -> tuple[datetime, datetime]:
        """The window's requests whose outcomes are due by `as_of`."""
        return as_of - timedelta(weeks=self.weeks), as_of - timedelta(days=self.label_due_days)

    def judge(self, labelled: pd.DataFrame, as_of: datetime | None = None, due: int = 0) -> RealizedResult:
        """The verdict on the window's labelled rows (columns `loan_status`, `probability`, and
        `reported_at` to judge the feed), given `due`, the approved requests of `due_window(as_of)`.

        The feed alerts only once outcomes are due (a new service has none yet): when the newest
        report is older than `max_label_age_days`, or fewer than `min_rows` are labelled though at
        least `min_rows` approved requests are past their due date (so a whole feed would have them).
        """
        n = len(labelled)
        versions = tuple(sorted(set(labelled["model_version"].astype(str)))) \
            if n and "model_version" in labelled else ()
        age = self.label_age_days(labelled, as_of) if as_of is not None else math.nan
        feed = []
        if due and age > self.max_label_age_days:
            feed.append("outcome feed stale: " + (
                f"newest outcome reported {age:.1f} days before the week's end" if math.isfinite(age) else
                f"no outcome reported for the window's requests, though {due} are due")
                + f" (bound {self.max_label_age_days:g})")
        if n < self.min_rows <= due:
            feed.append(f"outcomes missing: {n} labelled rows < {self.min_rows}, though {due} approved "
                        f"requests of the window are past their outcome's due date "
                        f"({self.label_due_days} days)")
        auc = realized_auc(labelled) if n >= self.min_rows else math.nan
        if math.isnan(auc):
            reason = "; ".join(feed) or f"insufficient labels to judge: {n} labelled rows < {self.min_rows}"
            return RealizedResult(n, math.nan, bool(feed), reason, versions, age)
        verdict = f"realized AUC {auc:.3f} {'<' if auc < self.min_auc else '>='} {self.min_auc}"
        return RealizedResult(n, auc, auc < self.min_auc or bool(feed), "; ".join([verdict, *feed]),
                              versions, age)

    @staticmethod
    def label_age_days(labelled: pd.DataFrame, as_of: datetime) -> float:
        """Days from the newest outcome reported before `as_of` to `as_of`; inf when there is none."""
        at = pd.to_datetime(labelled["reported_at"], utc=True) if "reported_at" in labelled \
            else pd.Series(dtype="datetime64[ns, UTC]")
        newest = at[at < pd.Timestamp(as_of)].max()
        if pd.isna(newest):
            return math.inf
        return round((pd.Timestamp(as_of) - newest) / pd.Timedelta(days=1), 1)

    @staticmethod
    def due(requests: pd.DataFrame) -> int:
        """The approved requests among `requests` (column `decision`): the ones owed an outcome."""
        return int((requests["decision"] == DECISION_APPROVED).sum()) if len(requests) else 0

    def as_metadata(self) -> dict[str, Any]:
        return {"min_realized_auc": self.min_auc, "min_realized_rows": self.min_rows,
                "label_due_days": self.label_due_days, "max_label_age_days": self.max_label_age_days,
                "population": POPULATION}
