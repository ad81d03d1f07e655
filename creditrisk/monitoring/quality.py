"""Data quality of a week's requests: every feature present, few nulls, every value within its rule."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from creditrisk.applicants.schema import FEATURES, invalid_rows


@dataclass(frozen=True)
class QualityResult:
    """The week's worst null rate, the rows breaking a schema rule, and whether it passes."""

    passed: bool
    missing_columns: list[str] = field(default_factory=list)
    max_null_rate: float = 0.0
    worst_null_column: str = ""
    out_of_range_rows: int = 0
    rules_broken: dict[str, int] = field(default_factory=dict)  # the rule (as the API words it) -> rows
    reason: str = ""  # what failed, in words; empty when it passes


@dataclass(frozen=True)
class QualityRule:
    """A week passes when no feature is missing, none is null in more than `max_null_rate` of rows,
    and no value breaks the applicant contract (the service refuses such requests, so any is a leak)."""

    # The API refuses a request with a missing field, so a logged week holds no nulls: a share above
    # this means rows reached the store some other way or a column was lost on the way. A tolerance,
    # not a measurement (any null is already a finding; the check warns, it does not block).
    max_null_rate: float = 0.05

    def judge(self, week: pd.DataFrame) -> QualityResult:
        missing = [c for c in FEATURES if c not in week.columns]
        if missing:
            return QualityResult(False, missing_columns=missing,
                                 reason=f"missing columns: {', '.join(missing)}")
        nulls = week[FEATURES].isna().mean()
        broken = invalid_rows(week[FEATURES])
        worst = float(nulls.max()) if len(week) else 0.0
        worst_column = str(nulls.idxmax()) if len(week) else ""
        problems = {str(k): int(v) for k, v in broken.sum().items() if v}
        why = [f"null rate {worst:.3f} in {worst_column} > {self.max_null_rate:g}"] \
            if worst > self.max_null_rate else []
        if problems:
            why.append(f"rules broken: {', '.join(f'{k} ({v} rows)' for k, v in problems.items())}")
        return QualityResult(not why, [], worst, worst_column, int(broken.any(axis=1).sum()), problems,
                             "; ".join(why))
