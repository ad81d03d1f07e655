"""Outcomes as a bank learns them: only approved applicants get a loan, so only they get an outcome, late.

A denied applicant never borrows, so nobody ever learns whether they would have defaulted. An
approved one's outcome is known only after a performance window (in a real book, a default is
declared at 90 days past due and a good loan is only known good after about a year). The
simulators (the demo's back office, the detection benchmark) draw when each approved applicant's
outcome is reported from a `LabelDelay`; everything that learns from labels therefore sees the
approved applicants only, and what was denied is covered by the label-free estimate alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FORMAT = "uniform:LOW,HIGH (days) or lognormal:MEDIAN,SIGMA (median in days, sigma of the log)"


@dataclass(frozen=True)
class LabelDelay:
    """Days from a request to its outcome report: uniform on [a, b], or lognormal with median a, sigma b."""

    kind: str
    a: float
    b: float

    def __post_init__(self) -> None:
        ok = (self.kind == "uniform" and 0 <= self.a <= self.b) or \
            (self.kind == "lognormal" and self.a > 0 and self.b >= 0)
        if not ok:
            raise ValueError(f"label delay {self} is not {FORMAT}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.a:g},{self.b:g}"

    @classmethod
    def parse(cls, text: str) -> LabelDelay:
        """`uniform:2,12` or `lognormal:180,0.4`; ValueError naming the format otherwise."""
        kind, _, params = text.partition(":")
        try:
            a, b = (float(x) for x in params.split(","))
        except ValueError:
            raise ValueError(f"label delay {text!r} is not {FORMAT}") from None
        return cls(kind.strip(), a, b)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` delays in days."""
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b, size=n)
        return self.a * np.exp(self.b * rng.standard_normal(n))


def report_times(ts: pd.Series, approved: np.ndarray, delay: LabelDelay, rng: np.random.Generator,
                 report_rate: float = 1.0) -> pd.Series:
    """When each request's outcome is reported: NaT for the denied (and for approved ones never reported).

    Every row draws its delay and its report coin, approved or not, so one seed gives the same
    delays whatever the decisions were.
    """
    days = delay.draw(len(ts), rng)
    reported = np.asarray(approved, dtype=bool) & (rng.random(len(ts)) < report_rate)
    at = pd.to_datetime(ts) + pd.Series(pd.to_timedelta(days, unit="D"), index=ts.index)
    return at.where(reported)
